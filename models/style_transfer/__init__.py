"""The `style_transfer` capability: repaint an image in an art style (Van Gogh, Monet, mosaic…) or in the style of a second image."""

from models.contracts import Capability


def capability(settings) -> Capability:
    return Capability(
        name="style_transfer",
        description="repaint an image in an art style (Van Gogh, Monet, mosaic…) or in the style of a second image.",
        min_images=1, max_images=2,
        planned="style transfer (fast neural style ONNX) arrives in a later release.",
    )
