"""The `image_generation` capability: text-to-image with Stable Diffusion class models through diffusers."""

from models.contracts import Capability


def capability(settings) -> Capability:
    return Capability(
        name="image_generation",
        description="text-to-image with Stable Diffusion class models through diffusers.",
        min_images=0, max_images=1,
        planned="text-to-image with diffusers arrives in a later release.",
    )
