"""The `object_removal` capability: erase an object (painted mask or named target) and fill the hole.

Backends in order of preference: `lama` (big-lama through spandrel, when its weights are here), `patchmatch`
and `opencv` (embedded, no download). The mask is the painted one, or the named target found by a CLIPSeg
grounder shared by all backends, or offline by the embedded finder (people, cats, the main object); when
nothing is found, the reply asks the user to paint (metadata `open_brush`).
"""

from models.contracts import Capability
from models.object_removal.classical import OpenCvBackend, PatchMatchBackend
from models.object_removal.finders import OfflineFinder
from models.object_removal.grounding import ClipSegGrounder
from models.object_removal.lama_backend import LamaBackend
from models.object_removal.params import parse_removal_params


def capability(settings) -> Capability:
    grounder, finder = ClipSegGrounder(settings), OfflineFinder(settings)
    return Capability(
        name="object_removal",
        description="erase an object (painted mask or named target) and fill the hole.",
        examples=("erase the person on the left", "remove the watermark", "erase what I painted"),
        min_images=1, max_images=1,
        needs_mask=False,  # a named target can replace the mask when a grounding model is installed
        params=("target", "position"),
        backends=[LamaBackend(settings, grounder, finder), PatchMatchBackend(settings, grounder, finder),
                  OpenCvBackend(settings, grounder, finder)],
        parse_params=parse_removal_params,
    )
