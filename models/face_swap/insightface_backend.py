"""The opt-in neural face-swap backend: InsightFace detection + ArcFace embedding + the inswapper model.

Off unless both `GATEWAY_FACE_SWAP_INSIGHTFACE_PACK` (e.g. buffalo_l, or a local folder) and
`GATEWAY_FACE_SWAP_SWAPPER_MODEL` (inswapper_128.onnx, local or on the Hub) are set, because those weights
are licensed for non-commercial research only (and inswapper was withdrawn upstream); the licence appears in
the capabilities listing and in every result's metadata. `status()` only looks at files (never downloads,
never imports onnxruntime); `download()` fetches what the settings name; `load()` builds the InsightFace
models on onnxruntime (CUDA when the device is a GPU) plus an optional spandrel face restorer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from core.errors import ModelLoadError
from models.contracts import BackendStatus, DOWNLOADABLE, MISSING, missing_modules, READY
from models.face_swap.flow import FaceSwapBackend
from models.face_swap.selection import DetectedFace
from models.face_swap.weights import fetch_file, fetch_pack, resolve_file, resolve_pack
from models.hub import downloads_allowed

ENABLE_FIX = ("set GATEWAY_FACE_SWAP_INSIGHTFACE_PACK=buffalo_l and GATEWAY_FACE_SWAP_SWAPPER_MODEL=<path to "
              "inswapper_128.onnx or <hub owner>/<repo>/inswapper_128.onnx>, then run "
              "`python -m models.download face_swap`")


@dataclass
class InsightFaceHandle:
    analysis: Any  # insightface.app.FaceAnalysis
    swapper: Any  # insightface.model_zoo.inswapper.INSwapper
    restore_crop: Any = None  # callable from restore.load_restorer, or None
    restore_name: str = ""
    notes: tuple[str, ...] = ()


class InsightFaceSwap(FaceSwapBackend):
    name = "insightface"
    licence = ("code: insightface MIT; weights: buffalo_l detection/recognition pack and inswapper_128 — "
               "non-commercial research use only (InsightFace model licence; inswapper withdrawn upstream)")
    description = ("Neural face swap (InsightFace SCRFD + ArcFace + inswapper_128), opt-in because of its "
                   "non-commercial weights; optional GFPGAN/RestoreFormer restoration when configured.")
    estimated_bytes = 900 * 2**20
    can_tell_gender = True

    @property
    def model_id(self) -> str:
        s = self.settings
        pack = getattr(s, "face_swap_insightface_pack", "") or "?"
        swapper = getattr(s, "face_swap_swapper_model", "") or "?"
        return f"insightface:{os.path.basename(pack.rstrip('/'))}+{os.path.basename(swapper)}"

    # ---- status and download ------------------------------------------------------------------------------
    def status(self) -> BackendStatus:
        if absent := missing_modules("insightface", "onnxruntime", "cv2"):
            return absent
        pack_raw = getattr(self.settings, "face_swap_insightface_pack", "")
        swapper_raw = getattr(self.settings, "face_swap_swapper_model", "")
        if not pack_raw or not swapper_raw:
            return BackendStatus(MISSING, "opt-in and not configured (its weights are licensed for non-commercial "
                                          "research only)", ENABLE_FIX)
        pack, swapper = resolve_pack(pack_raw), resolve_file(swapper_raw)
        if pack.state == MISSING:
            return BackendStatus(MISSING, f"the InsightFace pack {pack_raw!r} is not a folder with .onnx files",
                                 "set GATEWAY_FACE_SWAP_INSIGHTFACE_PACK to a pack folder or a pack name (buffalo_l)")
        if swapper.state == MISSING:
            return BackendStatus(MISSING, f"the swapper weights {swapper_raw!r} were not found",
                                 "set GATEWAY_FACE_SWAP_SWAPPER_MODEL to an existing inswapper_128.onnx or "
                                 "<hub owner>/<repo>/<file>")
        if DOWNLOADABLE in (pack.state, swapper.state):
            absent = [w for w, st in ((pack_raw, pack.state), (swapper.where, swapper.state)) if st == DOWNLOADABLE]
            return BackendStatus(DOWNLOADABLE, f"weights not downloaded yet: {', '.join(absent)}",
                                 "python -m models.download face_swap")
        return BackendStatus(READY)

    def download(self) -> str:
        pack_raw = getattr(self.settings, "face_swap_insightface_pack", "")
        swapper_raw = getattr(self.settings, "face_swap_swapper_model", "")
        if not pack_raw or not swapper_raw:
            return f"face_swap/{self.name}: not configured (opt-in); nothing to download"
        fetched = [str(fetch_pack(resolve_pack(pack_raw))), str(fetch_file(resolve_file(swapper_raw)))]
        restore_raw = getattr(self.settings, "face_swap_restore_model", "")
        if restore_raw:
            fetched.append(str(fetch_file(resolve_file(restore_raw))))
        return f"face_swap/{self.name}: " + ", ".join(fetched)

    # ---- loading --------------------------------------------------------------------------------------------
    def load(self, device: str) -> InsightFaceHandle:
        import onnxruntime
        from insightface.app import FaceAnalysis
        from insightface.model_zoo import model_zoo
        from insightface.model_zoo.inswapper import INSwapper

        from models.devices import resolve_device

        device = resolve_device(device or "auto")
        on_gpu = device.startswith("cuda") and "CUDAExecutionProvider" in onnxruntime.get_available_providers()
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if on_gpu else ["CPUExecutionProvider"]
        options = onnxruntime.SessionOptions()
        threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        if threads > 0:  # the tests and benchmarks pin one thread; production keeps onnxruntime's default
            options.intra_op_num_threads = threads
        allow = downloads_allowed(self.settings)
        pack = resolve_pack(self.settings.face_swap_insightface_pack)
        swapper_file = resolve_file(self.settings.face_swap_swapper_model)
        pack_dir = fetch_pack(pack) if (pack.folder is None and allow) else pack.folder
        swapper_path = fetch_file(swapper_file) if (swapper_file.local is None and allow) else swapper_file.local
        if pack_dir is None or swapper_path is None:
            raise ModelLoadError("InsightFace face-swap weights are not downloaded.",
                                 suggestions=["python -m models.download face_swap"])

        analysis = FaceAnalysis(name=str(pack_dir), allowed_modules=["detection", "recognition", "genderage"],
                                providers=providers, sess_options=options)
        analysis.prepare(ctx_id=0 if on_gpu else -1, det_size=(640, 640))
        if "recognition" not in analysis.models:
            raise ModelLoadError(f"The InsightFace pack in {pack_dir} has no recognition (ArcFace) model; "
                                 "inswapper needs the source face's embedding.")
        swapper = model_zoo.get_model(str(swapper_path), providers=providers, sess_options=options)
        if not isinstance(swapper, INSwapper):
            raise ModelLoadError(f"{swapper_path} is not an inswapper model (two inputs, 128×128 face crop).")
        handle = InsightFaceHandle(analysis, swapper)
        restore_raw = getattr(self.settings, "face_swap_restore_model", "")
        if restore_raw:
            restore_file = resolve_file(restore_raw)
            if restore_file.local is None and allow and restore_file.repo_id:
                restore_file = resolve_file(str(fetch_file(restore_file)))
            if restore_file.local is None:
                handle.notes = (f"face restoration skipped: {restore_raw!r} is not downloaded",)
            else:
                from models.face_swap.restore import load_restorer

                handle.restore_crop = load_restorer(restore_file.local, "cuda" if on_gpu else "cpu")
                handle.restore_name = os.path.basename(str(restore_file.local))
        return handle

    # ---- the swap -------------------------------------------------------------------------------------------
    def detect(self, handle: InsightFaceHandle, rgb) -> list[DetectedFace]:
        import numpy as np

        faces = handle.analysis.get(np.ascontiguousarray(rgb[..., ::-1]))
        found = []
        for face in faces:
            if face.kps is None or face.embedding is None:
                continue  # inswapper needs both the key points (alignment) and the embedding (identity)
            sex = face.sex
            found.append(DetectedFace(tuple(int(round(v)) for v in face.bbox[:4]), np.asarray(face.kps, np.float32),
                                      {"M": "male", "F": "female"}.get(sex), native=face))
        return found

    def swap(self, handle: InsightFaceHandle, source_rgb, source_face, target_rgb, target_face):
        import numpy as np

        bgr = np.ascontiguousarray(target_rgb[..., ::-1])
        swapped = handle.swapper.get(bgr, target_face.native, source_face.native, paste_back=True)
        return np.ascontiguousarray(swapped[..., ::-1])

    def finish(self, handle: InsightFaceHandle, rgb, faces, request):
        extra: dict = {}
        if handle.notes:
            extra["notes"] = list(handle.notes)
        if handle.restore_crop is None:
            return rgb, extra
        from models.face_swap.restore import restore_faces

        strength = float(getattr(self.settings, "face_swap_restore_strength", 0.8))
        request.report(0.9, "restoring faces")
        rgb = restore_faces(rgb, [f.points for f in faces], handle.restore_crop, strength)
        extra.update({"restoration": handle.restore_name, "restoration_strength": strength})
        return rgb, extra

    def describe_backend(self) -> str:
        return "InsightFace inswapper_128 (non-commercial weights)"
