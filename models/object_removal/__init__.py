"""The `object_removal` capability: erase an object (painted mask or named target) and fill the hole."""

from models.contracts import Capability


def capability(settings) -> Capability:
    return Capability(
        name="object_removal",
        description="erase an object (painted mask or named target) and fill the hole.",
        min_images=1, max_images=1,
        planned="object removal (LaMa, PatchMatch) arrives in a later release.",
    )
