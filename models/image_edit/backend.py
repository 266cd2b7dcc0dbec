"""`PillowEditBackend`: the image_edit capability's one backend, classical image operations with Pillow.

No weights and nothing to load, so its status is always ready. `run` takes the edits from the request's
parameters when the pipeline already parsed them (`operation` or `operations`), otherwise parses the message
text itself, applies them in order to the first image and returns one image whose recipe lists every step
with the arguments as used. A request that names no edit raises `MissingInput` listing what it can do.
"""

from __future__ import annotations

import PIL

from core.errors import Cancelled, MissingInput
from models.contracts import READY, Backend, BackendStatus, CapabilityRequest, CapabilityResult, OutputImage
from models.image_edit.parse import OPERATIONS, parse_edit
from models.image_edit.steps import apply_edit

_DEFAULT_MAX_OUTPUT_PIXELS = 64_000_000
_EXAMPLES = ["Rotate it 90° clockwise", "Crop it to a square", "Make it a bit brighter", "Convert it to black and white"]
_FOLLOW_UPS = {
    "rotate": ["Crop it to a square", "Flip it horizontally", "Upscale to higher resolution"],
    "flip": ["Rotate it 90° clockwise", "Crop it to 16:9", "Remove the background"],
    "crop": ["Upscale to higher resolution", "Resize it to 1024 wide", "Make it a bit brighter"],
    "resize": ["Sharpen it a bit", "Crop it to a square", "Upscale to higher resolution"],
    "brightness": ["Increase the contrast a bit", "Make the colours more vivid", "Sharpen it a bit"],
    "contrast": ["Make it a bit brighter", "Make the colours more vivid", "Convert it to black and white"],
    "saturation": ["Increase the contrast a bit", "Make it a bit brighter", "Convert it to black and white"],
    "grayscale": ["Increase the contrast by 20%", "Sharpen it a bit", "Apply an art style"],
    "sepia": ["Increase the contrast a bit", "Sharpen it a bit", "Apply an art style"],
    "blur": ["Sharpen it a bit", "Remove the background", "Make it a bit brighter"],
    "sharpen": ["Upscale to higher resolution", "Increase the contrast a bit", "Remove the background"],
}


class PillowEditBackend(Backend):
    name = "pillow"
    capability = "image_edit"
    licence = "MIT-CMU (Pillow)"
    description = ("Rotate, flip, crop, resize, brightness, contrast, saturation, black and white, sepia, blur, "
                   "sharpen.")
    estimated_bytes = 0
    embedded = True
    uses_model = False

    def status(self) -> BackendStatus:
        return BackendStatus(READY)

    def load(self, device: str):
        return None

    def run(self, handle, request: CapabilityRequest) -> CapabilityResult:
        if not request.images:
            raise MissingInput("Attach the image you want to edit (or make one first).",
                               suggestions=["Generate an image of a lighthouse at dusk"])
        source = request.images[0]
        image = source.image
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        edits = requested_edits(request.params, request.text)
        max_pixels = getattr(self.settings, "max_output_pixels", _DEFAULT_MAX_OUTPUT_PIXELS)
        steps, sentences = [], []
        for index, edit in enumerate(edits):
            if request.cancelled():
                raise Cancelled("The edit was cancelled.")
            request.report(index / len(edits), f"{edit.get('operation')} ({index + 1}/{len(edits)})")
            input_size = list(image.size)
            image, args, sentence = apply_edit(image, edit, max_pixels)
            steps.append({"operation": edit["operation"], **args, "input_size": input_size})
            sentences.append(sentence)
        request.report(1.0, "done")
        model_id = f"Pillow {PIL.__version__}"
        recipe = {"capability": "image_edit", "backend": self.name, "model_id": model_id}
        if len(steps) == 1:
            recipe.update(steps[0])
        else:
            recipe.update(operation="+".join(s["operation"] for s in steps), operations=steps)
        parents = [source.image_id] if source.image_id is not None else []
        return CapabilityResult(
            images=[OutputImage(image=image, recipe=recipe, parent_ids=parents)],
            message=" ".join(sentences), backend=self.name, model_id=model_id,
            metadata={"operations": [s["operation"] for s in steps]},
            suggestions=list(_FOLLOW_UPS[steps[-1]["operation"]]))


def requested_edits(params: dict | None, text: str) -> list[dict]:
    """The edits to apply, in order: from already parsed parameters when present, else parsed from `text`."""
    params = dict(params or {})
    if params.get("operations"):
        return [dict(edit) for edit in params["operations"]]
    if params.get("operation") in OPERATIONS:
        parsed = parse_edit(text or "")
        same = parsed.get("operation") == params["operation"] and "operations" not in parsed
        return [{**(parsed if same else {}), **params}]
    parsed = parse_edit(text or "")
    if not parsed:
        raise MissingInput(
            "Which edit do you want? I can rotate, flip, crop, resize, change brightness, contrast or "
            "saturation, convert to black and white, blur and sharpen.", suggestions=list(_EXAMPLES))
    return parsed.get("operations") or [parsed]
