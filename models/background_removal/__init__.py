"""The `background_removal` capability: cut out the subject and make the background transparent or a colour.

Backends, first ready wins: `rembg` (neural: BiRefNet / IS-Net / U2-Net weights from a local folder or
rembg's home, fetched by `python -m models.download background_removal`) and `grabcut` (embedded, no
download: YOLOv5s-seg instance masks for people, animals and vehicles, face- or frame-seeded GrabCut
otherwise, with soft guided-filter edges). Both return an RGBA cut-out (or the subject on
a colour), optionally the matte, with halo-free edge colours. Importing this package imports nothing heavy.
"""

from models.background_removal.backends import GrabCutBackend, RembgBackend
from models.background_removal.params import parse_background_removal_params
from models.contracts import Capability


def capability(settings) -> Capability:
    return Capability(
        name="background_removal",
        description="cut out the subject and make the background transparent or a colour.",
        examples=("remove the background", "put it on a white background", "cut out the person and give me the mask"),
        min_images=1, max_images=1,
        params=("background", "mask_output", "subject"),
        backends=[RembgBackend(settings), GrabCutBackend(settings)],
        parse_params=parse_background_removal_params,
    )
