"""Which images a request works on: attachments first, else the session's latest image.

"it", "this", "the last image", "the one you made" all mean the session's latest image (the newest image
of any message, generated or uploaded); the pipeline resolves that in code, to a stored image id, never by
asking a model. Attached images take precedence and keep their order (first = source face / content image,
second = target / style image). A capability that needs more images than were attached gets the latest image
appended (one attachment + "swap my face onto the last image").
"""

from __future__ import annotations

from core.errors import MissingInput
from core.vocabulary import IMAGE_GENERATION
from models.contracts import Capability, InputImage

_ASK = {
    "face_swap": "Attach two images (the face to use first, then the picture to put it on), or attach one face "
                 "and I'll put it onto the last image of this chat.",
    "background_removal": "Attach an image (or create one first) and I'll remove its background.",
    "object_removal": "Attach an image (or create one first), then tell me what to erase.",
    "style_transfer": "Attach an image (or create one first) and tell me the style.",
    "upscale": "Attach an image (or create one first) and I'll upscale it.",
    "image_edit": "Attach an image (or create one first) and tell me the edit.",
}


def resolve_inputs(attachments: list[InputImage], latest_row, capability: Capability, load_stored) -> list[InputImage]:
    """The images handed to `capability`; `load_stored(row)` turns the latest image's store row into an InputImage."""
    inputs = list(attachments)
    wants_latest = (capability.name == IMAGE_GENERATION and not inputs) or len(inputs) < capability.min_images
    if wants_latest and latest_row is not None and capability.max_images > len(inputs):
        if latest_row.id not in {i.image_id for i in inputs}:
            inputs.append(load_stored(latest_row))
    if len(inputs) < capability.min_images:
        raise MissingInput(_ASK.get(capability.name, "Attach an image first."),
                           suggestions=["Create a fantasy dragon"] if capability.name != IMAGE_GENERATION else [])
    if capability.max_images and len(inputs) > capability.max_images:
        inputs = inputs[: capability.max_images]
    if capability.max_images == 0:
        inputs = []
    return inputs
