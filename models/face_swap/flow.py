"""The face-swap request flow shared by every backend: consent, images, faces, swap, provenance.

`FaceSwapBackend.run` refuses without consent (from the session or the caller's context, so the API cannot
bypass the chat's confirmation), picks the source and target images, detects faces in both ("no face found
in the second image" names the image), selects the target faces, swaps them one by one (reporting progress,
honouring cancellation) and returns the image with its recipe, parent ids and the "AI-edited: face swap"
provenance PNG chunk. Subclasses only implement `detect`, `swap` and optionally `finish`.
"""

from __future__ import annotations

import time

from core.errors import Cancelled, ConsentRequired, GatewayError, NothingFound
from models.contracts import Backend, CapabilityRequest, CapabilityResult, OutputImage
from models.face_swap.selection import DetectedFace, choose_images, select_faces

CONSENT_KEY = "face_swap_consent"
CONFIRM_LABEL = "I have the right to use these faces"
CONSENT_TEXT = ("Face swap puts one person's face onto another picture. Continue only if you have the right to "
                "use both faces (your own, or with the people's permission), and never to deceive, harass or "
                "impersonate anyone. Every swapped image is marked 'AI-edited: face swap'.")
PROVENANCE = "AI-edited: face swap"


def consent_question(images: list, params: dict) -> str:
    """The consent question naming both photos: which face goes onto which picture."""
    try:
        choice = choose_images(list(images), dict(params or {}))
    except GatewayError:
        return CONSENT_TEXT
    return f"You asked me to put the face from {choice.source_label} onto {choice.target_label}. " + CONSENT_TEXT
_NO = {"", "0", "false", "no", "off", "none"}


def consent_given(request: CapabilityRequest) -> str | None:
    """'session' or 'context' when the user has confirmed, else None."""
    if _yes(request.session_metadata.get(CONSENT_KEY)):
        return "session"
    context = request.context or {}
    if _yes(context.get("consent")) or _yes(context.get(CONSENT_KEY)):
        return "context"
    return None


def _yes(value) -> bool:
    if isinstance(value, dict):
        return any(_yes(value.get(k)) for k in ("given", "confirmed", "value"))
    return value is not None and value is not False and str(value).strip().lower() not in _NO


class FaceSwapBackend(Backend):
    capability = "face_swap"
    can_tell_gender = False
    model_id = ""

    # ---- what a concrete backend provides ----------------------------------------------------------------
    def detect(self, handle, rgb) -> list[DetectedFace]:
        raise NotImplementedError

    def swap(self, handle, source_rgb, source_face: DetectedFace, target_rgb, target_face: DetectedFace):
        """`target_rgb` with `source_face` put onto `target_face` (RGB uint8 arrays)."""
        raise NotImplementedError

    def finish(self, handle, rgb, faces: list[DetectedFace], request: CapabilityRequest):
        """Post-processing after all swaps (face restoration); returns (rgb, recipe additions)."""
        return rgb, {}

    def describe_backend(self) -> str:
        return self.description

    # ---- the shared flow ------------------------------------------------------------------------------------
    def run(self, handle, request: CapabilityRequest) -> CapabilityResult:
        consent = consent_given(request)
        if consent is None:
            raise ConsentRequired(CONSENT_TEXT, consent_key=CONSENT_KEY, confirm_label=CONFIRM_LABEL)
        params = dict(request.params or {})
        choice = choose_images(request.images, params)
        started = time.perf_counter()
        source_rgb, target_rgb = _rgb_array(choice.source.image), _rgb_array(choice.target.image)

        request.report(0.1, "finding faces")
        source_faces = self._faces_or_explain(handle, source_rgb, choice.source_label, "source")
        target_faces = self._faces_or_explain(handle, target_rgb, choice.target_label, "target")
        source_face = max(source_faces, key=lambda f: f.area)
        chosen, chosen_text = select_faces(target_faces, params, can_tell_gender=self.can_tell_gender)

        result = target_rgb
        for n, index in enumerate(chosen):
            if request.cancelled():
                raise Cancelled("Face swap cancelled.")
            request.report(0.2 + 0.7 * n / len(chosen), f"swapping face {n + 1} of {len(chosen)}")
            result = self.swap(handle, source_rgb, source_face, result, target_faces[index])
        result, extra_recipe = self.finish(handle, result, [target_faces[i] for i in chosen], request)
        request.report(1.0, "done")

        recipe = {
            "operation": "face_swap", "backend": self.name, "model_id": self.model_id,
            "source_image_id": choice.source.image_id, "target_image_id": choice.target.image_id,
            "source_image": choice.source_label, "target_image": choice.target_label,
            "source_face_box": list(map(int, source_face.box)),
            "target_face_boxes": [list(map(int, target_faces[i].box)) for i in chosen],
            "faces_swapped": len(chosen), "faces_found": {"source": len(source_faces), "target": len(target_faces)},
            "face_target": params.get("face_target") or "largest",
            **({"face_index": int(params["face_index"])} if params.get("face_index") else {}),
            **({"face_gender": params["face_gender"]} if params.get("face_gender") else {}),
            "weights_licence": self.licence, "provenance": PROVENANCE, "consent": consent, **extra_recipe,
        }
        message = (f"Put the face from {choice.source_label} onto {chosen_text} in {choice.target_label}"
                   f" ({len(target_faces)} {'face' if len(target_faces) == 1 else 'faces'} found) with "
                   f"{self.describe_backend()}. The image is marked '{PROVENANCE}'.")
        if params.get("face_gender") and not self.can_tell_gender:
            message += " This backend cannot tell men from women, so I chose by position and size only."
        suggestions = ["Upscale the result"]
        if len(target_faces) > len(chosen):
            suggestions.insert(0, "Say 'all faces', 'the one on the left' or 'the middle one' to swap other faces")
        parents = [i.image_id for i in (choice.source, choice.target) if i.image_id is not None]
        return CapabilityResult(
            images=[OutputImage(_to_image(result, choice.target.image), recipe, parents, {"ai_edit": PROVENANCE})],
            message=message, model_id=self.model_id,
            metadata={"licence": self.licence, "provenance": PROVENANCE, "faces_swapped": len(chosen),
                      "faces_found": recipe["faces_found"], "swap_seconds": round(time.perf_counter() - started, 4)},
            suggestions=suggestions,
            session_updates={CONSENT_KEY: True} if consent == "context" else {},
        )

    def _faces_or_explain(self, handle, rgb, label: str, role: str) -> list[DetectedFace]:
        faces = self.detect(handle, rgb)
        if not faces:
            what = "the one that should give the face" if role == "source" else "the picture the face should go onto"
            raise NothingFound(
                f"I found no face in {label}, {what}.",
                suggestions=["Use a photo where the face is clear, facing the camera and not too small.",
                             "If the images are the other way round, say 'put the face from the second image "
                             "onto the first'."],
                details={"image": label, "role": role})
        return faces


def _rgb_array(image):
    import numpy as np

    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


def _to_image(rgb, like):
    """The result as a PIL image, with the target's alpha channel when it had one."""
    import numpy as np
    from PIL import Image

    out = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    if like.mode == "RGBA":
        out.putalpha(like.getchannel("A"))
    return out
