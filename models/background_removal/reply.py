"""One request, whichever backend makes the matte: read the parameters, reuse an existing cut-out's alpha,
compose the outputs, and describe what was done (recipe, metadata, chips, suggestions).

A backend only supplies `make_alpha(rgb_array) -> (alpha, details)`; everything the user sees is decided
here, so the rembg and the embedded backend answer in exactly the same shape.
"""

from __future__ import annotations

import time

from core.errors import Cancelled, MissingInput, NothingFound
from models.background_removal.compose import alpha_from_rgba, compose_outputs
from models.background_removal.params import TRANSPARENT, resolve_background
from models.contracts import Action, CapabilityRequest, CapabilityResult, OutputImage

CAPABILITY = "background_removal"
MIN_SUBJECT_FRACTION = 0.002  # a matte keeping less than this share of the pixels found no subject


def run_request(request: CapabilityRequest, *, backend: str, model_id: str, make_alpha, method_note: str = "",
                ) -> CapabilityResult:
    if not request.images:
        raise MissingInput("Attach the image whose background I should remove.",
                           suggestions=["Attach a photo and say 'remove the background'."])
    source = request.images[0]
    params = dict(request.params or {})
    background = params.get("background") or TRANSPARENT
    resolve_background(background)  # an unknown colour fails before any work
    mask_output = params.get("mask_output") if params.get("mask_output") in ("also", "only") else None
    started = time.perf_counter()
    request.report(0.05, "Finding the subject")
    alpha = alpha_from_rgba(source.image)
    if alpha is not None:
        details = {"method": "existing_alpha"}
        method_note = "the image was already a cut-out, so I kept its transparency"
    else:
        import numpy as np

        alpha, details = make_alpha(np.asarray(source.image.convert("RGB")), params)
    if request.cancelled():
        raise Cancelled("Background removal was cancelled.")
    if float((alpha > 0.5).mean()) < MIN_SUBJECT_FRACTION:
        raise NothingFound("I could not find a clear subject to keep in this image.",
                           suggestions=["Try a photo where the subject stands out from the background.",
                                        "Crop the image closer to the subject."])
    segment_seconds = time.perf_counter() - started
    request.report(0.7, "Cleaning the edges")
    outputs = compose_outputs(source.image, alpha, background=background, mask_output=mask_output,
                              clean_edges=details.get("method") != "existing_alpha")
    parents = [source.image_id] if source.image_id else []
    recipe = {"capability": CAPABILITY, "backend": backend, "model": model_id, "background": outputs.background,
              "mask_output": mask_output or "none", **{k: v for k, v in details.items() if k != "faces"}}
    images = []
    if outputs.cutout is not None:
        images.append(OutputImage(outputs.cutout, {**recipe, "output": "cutout"}, list(parents)))
    if outputs.mask is not None:
        images.append(OutputImage(outputs.mask, {**recipe, "output": "mask"}, list(parents)))
    request.report(1.0, "Done")
    return CapabilityResult(
        images=images, message=_message(outputs, mask_output, method_note), backend=backend, model_id=model_id,
        metadata={"backend": backend, "model": model_id, "background": outputs.background, "segment_seconds": round(segment_seconds, 4),
                  "total_seconds": round(time.perf_counter() - started, 4), **details},
        actions=_actions(outputs.background, mask_output), suggestions=_suggestions(outputs.background))


def _message(outputs, mask_output, method_note: str) -> str:
    if mask_output == "only":
        text = "Here is the subject's mask (white = kept)."
    elif outputs.background_rgb is None:
        text = "Removed the background: the subject is on a transparent background (PNG)."
    else:
        text = f"Removed the background and put the subject on {outputs.background}."
    if mask_output == "also":
        text += " The second image is the mask."
    return text + (f" ({method_note[0].upper()}{method_note[1:]}.)" if method_note else "")


def _actions(background: str, mask_output) -> list[Action]:
    force = {"force_intent": CAPABILITY}
    actions = []
    if background != "white":
        actions.append(Action("background_white", "White background", "put it on a white background",
                              {**force, "params": {"background": "white"}}))
    if background != TRANSPARENT:
        actions.append(Action("background_transparent", "Transparent background", "make the background transparent",
                              {**force, "params": {"background": TRANSPARENT}}))
    if mask_output is None:
        actions.append(Action("background_mask", "Show the mask", "give me just the mask",
                              {**force, "params": {"mask_output": "only"}}))
    return actions


def _suggestions(background: str) -> list[str]:
    first = "Put it on a white background" if background == TRANSPARENT else "Make the background transparent"
    return [first, "Upscale to higher resolution"]
