"""The `face_swap` capability: put the face from one image onto the face(s) in another."""

from models.contracts import Capability


def capability(settings) -> Capability:
    return Capability(
        name="face_swap",
        description="put the face from one image onto the face(s) in another.",
        min_images=1, max_images=2,
        planned="face swap (InsightFace, or an embedded landmark-based swap) arrives in a later release.",
    )
