"""Turning an image and a soft alpha matte into what the user asked for, the same way for every backend.

Edge pixels of a photo mix the subject's colour with the old background's; keeping them as they are leaves a
dark (or coloured) halo once the cut-out sits on a new background. So the foreground colours of the
semi-transparent band are re-estimated with pymatting's multilevel foreground estimation (Germer et al.
2020), run only on the 128-px tiles the band touches (about 0.2 s of CPU for a 1024² portrait), while
fully opaque pixels keep their original values exactly. Then the cut-out becomes RGBA, or is composited over
a colour, and the matte can be returned as an "L" image too.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.background_removal.params import TRANSPARENT, resolve_background

SOLID, CLEAR = 0.98, 0.02  # alpha above / below which a pixel counts as fully subject / fully background


@dataclass
class Outputs:
    cutout: object | None  # PIL RGBA (transparent background) or RGB (colour background); None for mask only
    mask: object | None  # PIL "L" matte, when asked for
    background: str  # "transparent" or the colour as stated
    background_rgb: tuple[int, int, int] | None


def compose_outputs(image, alpha, *, background=TRANSPARENT, mask_output: str | None = None,
                    clean_edges: bool = True) -> Outputs:
    """`image`: PIL RGB/RGBA; `alpha`: float array HxW in [0, 1] (1 = subject). Returns the images to send.
    `clean_edges=False` for a cut-out whose edge colours were cleaned when it was made."""
    import numpy as np
    from PIL import Image

    background = background or TRANSPARENT
    rgb_fill = resolve_background(background)
    alpha = np.clip(np.asarray(alpha, dtype=np.float32), 0.0, 1.0)
    mask_img = Image.fromarray(np.round(alpha * 255).astype(np.uint8), "L") if mask_output else None
    if mask_output == "only":
        return Outputs(None, mask_img, str(background), rgb_fill)
    rgb = np.asarray(image.convert("RGB"))
    fg = clean_foreground(rgb, alpha) if clean_edges else rgb
    if rgb_fill is None:
        rgba = np.dstack([fg, np.round(alpha * 255).astype(np.uint8)])
        cutout = Image.fromarray(rgba, "RGBA")
    else:
        a3 = alpha[..., None]
        mixed = fg.astype(np.float32) * a3 + np.asarray(rgb_fill, np.float32) * (1.0 - a3)
        cutout = Image.fromarray(np.round(mixed).astype(np.uint8), "RGB")
    return Outputs(cutout, mask_img, str(background), rgb_fill)


def clean_foreground(rgb, alpha, tile: int = 128, pad: int = 16):
    """uint8 HxWx3 colours with the old background's contribution removed where 0 < alpha < 1.

    The estimate's cost grows with the area it is given, so it runs either on the tiles the edge band
    touches (each with `pad` pixels of context) or once on the band's bounding box, whichever is smaller:
    on a 1024² portrait matte the tiles take a third less CPU time than one whole-image call, with no loss
    on the halo test; a matte that is semi-transparent almost everywhere goes in one call."""
    import numpy as np

    band = (alpha > CLEAR) & (alpha < SOLID)
    if not band.any():
        return rgb
    height, width = band.shape
    tiles = [(top, min(height, top + tile), left, min(width, left + tile))
             for top in range(0, height, tile) for left in range(0, width, tile)
             if band[top:top + tile, left:left + tile].any()]
    rows, cols = np.flatnonzero(band.any(axis=1)), np.flatnonzero(band.any(axis=0))
    whole = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
    if sum(_padded_area(box, pad, height, width) for box in tiles) > _padded_area(whole, pad, height, width):
        tiles = [whole]
    out = rgb.copy()
    for top, bottom, left, right in tiles:
        _estimate_into(out, rgb, alpha, band, top, bottom, left, right, pad)
    return out


def _padded_area(box, pad, height, width) -> int:
    top, bottom, left, right = box
    return (min(height, bottom + pad) - max(0, top - pad)) * (min(width, right + pad) - max(0, left - pad))


def _estimate_into(out, rgb, alpha, band, top, bottom, left, right, pad):
    import numpy as np
    from pymatting import estimate_foreground_ml

    height, width = band.shape
    y0, x0, y1, x1 = max(0, top - pad), max(0, left - pad), min(height, bottom + pad), min(width, right + pad)
    estimated = estimate_foreground_ml(rgb[y0:y1, x0:x1].astype(np.float64) / 255.0,
                                       alpha[y0:y1, x0:x1].astype(np.float64))
    inner = band[top:bottom, left:right]
    values = estimated[top - y0:bottom - y0, left - x0:right - x0][inner]
    out[top:bottom, left:right][inner] = np.round(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)


def alpha_from_rgba(image):
    """The existing matte of an RGBA image that really is a cut-out (≥1% transparent pixels), else None."""
    import numpy as np

    if image.mode != "RGBA":
        return None
    alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
    return alpha if (alpha < 0.5).mean() >= 0.01 else None
