"""Untrusted image files: every kind of bad input is a clear InvalidImage, every odd mode becomes RGB/RGBA."""

import io

import numpy as np
import pytest
from PIL import Image

from core.errors import ImageTooLarge, InvalidImage
from core.images import encode_png, load_image, png_text, recipe_from_png

LIMITS = dict(max_bytes=5 * 2**20, max_pixels=4_000_000)


def _png_bytes(img, **kw):
    buf = io.BytesIO()
    img.save(buf, format=kw.pop("format", "PNG"), **kw)
    return buf.getvalue()


def test_real_photo_round_trips(astronaut):
    loaded = load_image(_png_bytes(astronaut), **LIMITS)
    assert loaded.image.mode == "RGB" and loaded.image.size == (512, 512)
    assert np.array_equal(np.asarray(loaded.image), np.asarray(astronaut))


@pytest.mark.parametrize("data, fragment", [
    (b"", "empty file"),
    (b"this is a text file, not an image", "not an image"),
    (b"%PDF-1.4 fake pdf", "not an image"),
])
def test_non_images_are_refused(data, fragment):
    with pytest.raises(InvalidImage, match=fragment):
        load_image(data, **LIMITS)


def test_png_signature_followed_by_garbage_is_refused():
    with pytest.raises(InvalidImage, match="damaged"):
        load_image(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, **LIMITS)


def test_truncated_png_is_refused(astronaut):
    data = _png_bytes(astronaut)
    with pytest.raises(InvalidImage, match="damaged or truncated"):
        load_image(data[: len(data) // 2], **LIMITS)


def test_decompression_bomb_is_refused_before_decoding():
    bomb = _png_bytes(Image.new("L", (5000, 5000)))  # tiny file, 25 megapixels
    assert len(bomb) < 100_000
    with pytest.raises(ImageTooLarge, match="megapixels"):
        load_image(bomb, **LIMITS)


def test_file_above_upload_limit_is_refused(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(b"\x89PNG" + b"0" * 2048)
    with pytest.raises(ImageTooLarge, match="upload limit"):
        load_image(path, max_bytes=1024, max_pixels=10**8)


def test_missing_file():
    with pytest.raises(InvalidImage, match="not found"):
        load_image("/nonexistent/x.png", **LIMITS)


@pytest.mark.parametrize("mode", ["CMYK", "P", "L", "LA", "I;16", "1", "RGBA"])
def test_modes_are_normalised(mode, astronaut):
    src = astronaut.resize((64, 48))
    if mode == "I;16":
        img = Image.fromarray((np.asarray(src.convert("L"), dtype=np.uint16) * 257))
    elif mode == "LA":
        img = src.convert("LA")
    else:
        img = src.convert(mode)
    fmt = "TIFF" if mode in ("CMYK",) else "PNG"
    loaded = load_image(_png_bytes(img, format=fmt), **LIMITS)
    assert loaded.image.mode in ("RGB", "RGBA")
    assert loaded.image.size == (64, 48)
    if mode in ("LA", "RGBA"):
        assert loaded.image.mode == "RGBA"


def test_sixteen_bit_keeps_contrast():
    ramp = np.tile(np.linspace(0, 65535, 64, dtype=np.uint16), (8, 1))
    loaded = load_image(_png_bytes(Image.fromarray(ramp)), **LIMITS)
    arr = np.asarray(loaded.image)
    assert arr[..., 0].min() == 0 and arr[..., 0].max() == 255
    assert any("8-bit" in n for n in loaded.notes)


def test_animated_gif_uses_first_frame():
    frames = [Image.new("RGB", (32, 32), c) for c in ("red", "blue", "green")]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    loaded = load_image(buf.getvalue(), **LIMITS)
    r, g, b = loaded.image.convert("RGB").getpixel((5, 5))
    assert r > 200 and g < 50 and b < 50
    assert any("first frame" in n for n in loaded.notes)


def test_exif_orientation_is_applied(astronaut):
    img = astronaut.resize((80, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    data = _png_bytes(img.convert("RGB"), format="JPEG", exif=exif.tobytes())
    loaded = load_image(data, **LIMITS)
    assert loaded.image.size == (40, 80)


def test_png_provenance_round_trip(astronaut):
    data = encode_png(astronaut, text={"gateway_recipe": '{"seed": 7, "prompt": "a fox — ünïcode"}', "parameters": "a fox\nSteps: 2"})
    assert recipe_from_png(data) == {"seed": 7, "prompt": "a fox — ünïcode"}
    assert png_text(data)["parameters"].startswith("a fox")
    assert Image.open(io.BytesIO(data)).size == (512, 512)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_fast_and_pillow_png_writers_agree(astronaut, mode, monkeypatch):
    """The fpng path (RGB/RGBA at level ≤ 1) and Pillow's writer give the same pixels and the same text
    chunks, placed before the image data; "L" masks always go through Pillow."""
    import core.images as images

    image = astronaut.convert(mode) if mode != "RGBA" else astronaut.copy()
    if mode == "RGBA":
        image.putalpha(Image.linear_gradient("L").resize(image.size))
    text = {"gateway_recipe": '{"seed": 7, "prompt": "ünïcode ✓"}', "parameters": "a fox"}
    fast = encode_png(image, text=text)
    monkeypatch.setattr(images, "_fpng", lambda: None)
    slow = encode_png(image, text=text)
    for data in (fast, slow):
        decoded = Image.open(io.BytesIO(data))
        assert decoded.mode == mode and np.array_equal(np.asarray(decoded), np.asarray(image))
        assert recipe_from_png(data)["prompt"] == "ünïcode ✓" and png_text(data)["parameters"] == "a fox"
        assert data.index(b"tEXt") < data.index(b"IDAT") and data.index(b"iTXt") < data.index(b"IDAT")
    assert (fast == slow) == (mode == "L")  # different encoders for colour images, the same one for masks
