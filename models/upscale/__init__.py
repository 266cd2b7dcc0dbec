"""The `upscale` capability: enlarge an image 2x, 3x or 4x with a super-resolution model."""

from models.contracts import Capability


def capability(settings) -> Capability:
    return Capability(
        name="upscale",
        description="enlarge an image 2x, 3x or 4x with a super-resolution model.",
        min_images=1, max_images=1,
        planned="upscaling (Real-ESRGAN, SPAN) arrives in a later release.",
    )
