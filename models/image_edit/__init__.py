"""The `image_edit` capability: basic edits with Pillow and no model — rotate, flip, crop, resize, brightness,
contrast, saturation, black and white, blur and sharpen, alone or several in one message.

`parse_edit` (in `parse`) turns the message into `{"operation": ..., arguments}`; `PillowEditBackend` (in
`backend`) applies it. Importing this package loads nothing heavy.
"""

from models.contracts import Capability
from models.image_edit.backend import PillowEditBackend
from models.image_edit.parse import parse_edit

PARAMS = ("operation", "operations", "angle", "direction", "expand", "fill", "axis", "box", "margins", "aspect",
          "size", "width", "height", "scale", "long_side", "factor", "radius", "strength", "region")


def capability(settings) -> Capability:
    return Capability(
        name="image_edit",
        description="basic edits without a model: rotate, flip, crop, resize, brightness, contrast, saturation, "
                    "black and white, blur and sharpen.",
        examples=("Rotate it 90 degrees clockwise", "Flip it horizontally", "Crop it to 16:9",
                  "Resize it to 800 wide", "Make it a bit brighter", "Increase the contrast by 20%",
                  "Make it black and white", "Blur it slightly", "Rotate 90 and make it black and white"),
        min_images=1, max_images=1,
        params=PARAMS,
        parse_params=parse_edit,
        backends=[PillowEditBackend(settings)],
    )
