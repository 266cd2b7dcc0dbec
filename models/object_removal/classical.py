"""The embedded inpainters, no weights: PatchMatch (pypatchmatch's prebuilt native library) and OpenCV.

PatchMatch copies real texture from a band around the hole (good on fur, grass, walls; ~2 s on one core
for a 10 % hole at 512²), guided by a coarse diffused layout of the border's colours so that a large hole
keeps the structure around it (a saucer stays a saucer where the cup stood); OpenCV's Telea diffusion only smears the border colours inward (fast, fine for thin
scratches and small marks) and is the always-available last resort. Both are deterministic: PatchMatch's
random search is seeded.
"""

from __future__ import annotations

import importlib.util

from models.contracts import BackendStatus, MISSING, missing_modules, READY
from models.object_removal.removal import InpaintBackend

PATCH_SIZE = 3  # patch radius: 5 costs ~2x and 15 ~5x for little visible gain on photos (measured)
SEED = 0
BAND_FRACTION = 0.15  # source band around the hole, relative to the hole's size
GUIDE_WEIGHT = 1.0  # the layout guide against the texture distance (4 kept more shadow; 0 is plain PatchMatch)
GUIDE_DOWNSCALE = 8


class PatchMatchBackend(InpaintBackend):
    name = "patchmatch"
    human_name = "PatchMatch"
    licence = "no weights (pypatchmatch, MIT)"
    description = "PatchMatch texture synthesis (embedded, no download): good for small and medium holes in texture."
    embedded = True

    def status(self) -> BackendStatus:
        spec = importlib.util.find_spec("patchmatch")
        if spec is None or not spec.submodule_search_locations:
            return BackendStatus(MISSING, "the pypatchmatch package is not installed", "pip install -r requirements.txt")
        return BackendStatus(READY)

    def load(self, device: str):
        import patchmatch

        if not patchmatch.patchmatch_available:
            from core.errors import ModelLoadError

            raise ModelLoadError("pypatchmatch is installed but its native library failed to load.")
        return patchmatch

    def fill(self, handle, rgb, hole, request):
        import numpy as np

        handle.set_random_seed(SEED)
        return handle.inpaint_regularity(np.ascontiguousarray(rgb), hole.astype(np.uint8) * 255,
                                         structure_guide(rgb, hole), global_mask=source_band_exclusion(hole),
                                         patch_size=PATCH_SIZE, guide_weight=GUIDE_WEIGHT)


def structure_guide(rgb, hole):
    """float32 H x W x 3 (Lab): where each colour belongs inside the hole, the border's colours diffused inward
    at 1/8 scale and blurred. PatchMatch alone matches texture only, so a hole that meets the table at one end
    and the saucer elsewhere filled the saucer's middle with wood; with this guide a patch must also match the
    layout's colour there, and the saucer stays red up to its rim."""
    import cv2
    import numpy as np

    height, width = hole.shape
    small_size = (max(8, width // GUIDE_DOWNSCALE), max(8, height // GUIDE_DOWNSCALE))
    small = cv2.resize(np.ascontiguousarray(rgb), small_size, interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole.astype(np.uint8), small_size, interpolation=cv2.INTER_NEAREST)
    small_hole = cv2.dilate(small_hole, np.ones((3, 3), np.uint8)) * 255
    layout = cv2.inpaint(small, small_hole, 5, cv2.INPAINT_TELEA)
    layout = cv2.GaussianBlur(cv2.resize(layout, (width, height), interpolation=cv2.INTER_CUBIC), (0, 0), 4)
    return np.ascontiguousarray(cv2.cvtColor(layout, cv2.COLOR_RGB2LAB).astype(np.float32))


def source_band_exclusion(hole):
    """uint8 mask of the pixels PatchMatch may not copy from: everything farther from the hole than a band
    of 15 % of the hole's size. Without it, erasing the shuttle beside the astronaut pasted her face into
    the hole; with it the fill comes from the wall around the shuttle."""
    import cv2
    import numpy as np

    ys, xs = np.nonzero(hole)
    band = max(12, round(BAND_FRACTION * max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)))
    distance = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 5)
    return np.ascontiguousarray((distance > band).astype(np.uint8) * 255)


class OpenCvBackend(InpaintBackend):
    name = "opencv"
    human_name = "OpenCV Telea inpainting"
    licence = "no weights (OpenCV, Apache-2.0)"
    description = "OpenCV Telea inpainting (embedded): fast, smooth fill for thin marks; blurry on large holes."
    embedded = True

    def status(self) -> BackendStatus:
        if absent := missing_modules("cv2"):
            return absent
        return BackendStatus(READY)

    def fill(self, handle, rgb, hole, request):
        import cv2
        import numpy as np

        radius = max(3, min(15, int(self.settings.object_removal_dilate_px)))
        return cv2.inpaint(np.ascontiguousarray(rgb), hole.astype(np.uint8) * 255, radius, cv2.INPAINT_TELEA)
