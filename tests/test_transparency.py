"""Transparency survives loading, for every image mode that can carry it (issue 10, item 4).

One regression test per mode: the file is written by Pillow the way other tools write it (PNG tRNS key for
1-bit, grey, RGB, 16-bit grey and palette images; per-entry palette alpha; GIF transparency index; LA, RGBA,
WebP alpha), loaded through `load_image`, stored with `encode_png`, read back — the pixels that were
transparent still are, the others are not, and their colours are unchanged. The 1-bit case used to crash the
whole request ("transparency for RGB must be list or tuple").
"""

import io

import numpy as np
import pytest
from PIL import Image

from core.images import encode_png, load_image
from tests.pipeline_util import make_pipeline, send

LIMITS = dict(max_bytes=10**7, max_pixels=10**7)
CHECKER = (np.indices((6, 8)).sum(axis=0) % 2).astype(bool)  # True = the pixels that must end up transparent


def _save(img: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _one_bit():
    return _save(Image.fromarray(~CHECKER).convert("1"), transparency=0)  # black (the key) = transparent


def _grey():
    return _save(Image.fromarray(np.where(CHECKER, 10, 200).astype("uint8")), transparency=10)


def _rgb():
    arr = np.zeros((6, 8, 3), "uint8")
    arr[~CHECKER] = (200, 120, 40)
    arr[CHECKER] = (0, 255, 0)
    return _save(Image.fromarray(arr), transparency=(0, 255, 0))


def _grey16():
    return _save(Image.fromarray(np.where(CHECKER, 0, 50000).astype("uint16")), transparency=0)


def _palette_index():
    img = Image.fromarray(np.where(CHECKER, 1, 2).astype("uint8"), "P")
    img.putpalette([0, 0, 0, 0, 255, 0, 200, 120, 40] + [0] * 759)
    return _save(img, transparency=1)


def _palette_alpha_table():
    img = Image.fromarray(np.where(CHECKER, 1, 2).astype("uint8"), "P")
    img.putpalette([0, 0, 0, 0, 255, 0, 200, 120, 40] + [0] * 759)
    return _save(img, transparency=bytes([255, 0, 255]))


def _gif():
    img = Image.fromarray(np.where(CHECKER, 1, 2).astype("uint8"), "P")
    img.putpalette([0, 0, 0, 0, 255, 0, 200, 120, 40] + [0] * 759)
    return _save(img, "GIF", transparency=1)


def _rgba_array():
    arr = np.zeros((6, 8, 4), "uint8")
    arr[..., :3] = (200, 120, 40)
    arr[..., 3] = np.where(CHECKER, 0, 255)
    return arr


def _la():
    grey = np.where(CHECKER, 0, 200).astype("uint8")
    return _save(Image.fromarray(np.dstack([grey, np.where(CHECKER, 0, 255).astype("uint8")]), "LA"))


def _rgba():
    return _save(Image.fromarray(_rgba_array(), "RGBA"))


def _webp():
    return _save(Image.fromarray(_rgba_array(), "RGBA"), "WEBP", lossless=True)


CASES = {"1 + tRNS": (_one_bit, "1"), "L + tRNS": (_grey, "L"), "RGB + tRNS": (_rgb, "RGB"),
         "I;16 + tRNS": (_grey16, "I;16"), "P + tRNS index": (_palette_index, "P"),
         "P + tRNS alpha table": (_palette_alpha_table, "P"), "GIF P + transparency": (_gif, "P"),
         "LA": (_la, "LA"), "RGBA": (_rgba, "RGBA"), "WebP RGBA": (_webp, "RGBA")}


@pytest.mark.parametrize("name", list(CASES))
def test_transparency_is_kept(name):
    make, source_mode = CASES[name]
    data = make()
    assert Image.open(io.BytesIO(data)).mode == source_mode  # the file really is of that mode
    loaded = load_image(data, **LIMITS).image
    assert loaded.mode == "RGBA" and "transparency" not in loaded.info
    stored = Image.open(io.BytesIO(encode_png(loaded)))
    alpha = np.asarray(stored.convert("RGBA"))[..., 3]
    assert (alpha[CHECKER] == 0).all(), f"{name}: transparent pixels became visible"
    assert (alpha[~CHECKER] == 255).all(), f"{name}: opaque pixels became transparent"
    visible = np.asarray(stored.convert("RGB"))[~CHECKER]
    reference = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA").convert("RGB"))[~CHECKER]
    if source_mode != "I;16":  # 16-bit grey is rescaled to 8 bits
        assert np.abs(visible.astype(int) - reference.astype(int)).max() <= 1


def test_opaque_images_stay_rgb():
    loaded = load_image(_save(Image.new("L", (8, 6), 90)), **LIMITS).image
    assert loaded.mode == "RGB"


def test_one_bit_transparent_png_through_the_pipeline(settings):
    """The file that used to crash a request (and leave an empty session): now an edited image keeps its alpha."""
    pipe, store = make_pipeline(settings)
    try:
        reply = send(pipe, "rotate it 180 degrees", images=[_one_bit()], force_intent="image_edit")
        assert reply.type == "image", reply.message
        out = Image.open(reply.images[0].path)
        assert out.mode == "RGBA"
        alpha = np.asarray(out)[..., 3]
        assert (alpha[CHECKER[::-1, ::-1]] == 0).all() and (alpha[~CHECKER[::-1, ::-1]] == 255).all()
    finally:
        store.close()
