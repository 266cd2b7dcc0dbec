"""The last resort: a plain Lanczos resize, used only when no super-resolution model can run here.

It invents no detail, so every reply says plainly that it is an ordinary resize and how to get a real
upscaler. Pillow only; always ready.
"""

from __future__ import annotations

from models.contracts import Backend, CapabilityRequest, CapabilityResult
from models.upscale import common


class LanczosUpscaler(Backend):
    name = "lanczos"
    capability = "upscale"
    licence = "no weights (Pillow, HPND licence)"
    description = "Plain Lanczos resize, labelled as such: the last resort when no super-resolution model is installed."
    embedded = True

    def run(self, handle, request: CapabilityRequest) -> CapabilityResult:
        from PIL import Image

        source = common.input_image(request)
        image = source.image
        factor, notes = common.choose_factor(request.params, image.size, self.settings.max_output_pixels)
        result = image.resize(common.output_size(image.size, factor), Image.Resampling.LANCZOS)
        notes = ["no super-resolution model is available here, so this is a plain resize with no added detail "
                 "(install the requirements for the embedded SPAN upscaler)"] + notes
        out = common.build_result(request, source, result, factor=factor, model_id="lanczos", backend=self.name,
                                  human_name="a plain Lanczos resize", notes=notes, details={})
        out.metadata["warning"] = "plain resize, no super-resolution model available"
        return out
