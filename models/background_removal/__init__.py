"""The `background_removal` capability: cut out the subject and make the background transparent or a colour."""

from models.contracts import Capability


def capability(settings) -> Capability:
    return Capability(
        name="background_removal",
        description="cut out the subject and make the background transparent or a colour.",
        min_images=1, max_images=1,
        planned="background removal (rembg, embedded person segmentation) arrives in a later release.",
    )
