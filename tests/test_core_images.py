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


# ---- metadata is parsed inside the guard: broken metadata is ignored or invalid_image, never a crash -----------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


# EXIF blocks (found by fuzzing Pillow 12.3) that make ImageOps.exif_transpose raise: orientation 8 with a
# ResolutionUnit/ExifVersion of the wrong type, and orientation 2 with a sub-IFD pointer that seeks backwards.
BROKEN_EXIF = (
    bytes.fromhex("49492a000800000003001201030001000000080000001a01010002000000000000000"
                  "5a00400020000000000008000000000e8a4fef23a0c9fc5afd7608437816bdd0a73"),
    bytes.fromhex("49492a00080000000300120103000100000002000000698709000100000000000080258803000500000000"
                  "000080000000004c8e3442faa976b4131c3c5efee82fcf1f4c"),
)


def _png_with_broken_exif(exif: bytes = BROKEN_EXIF[0]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 16), "teal").save(buf, format="PNG")
    data = buf.getvalue()
    at = data.index(b"IDAT") - 4
    return data[:at] + _png_chunk(b"eXIf", exif) + data[at:]


def _png_with_broken_sub_ifd() -> bytes:
    return _png_with_broken_exif(BROKEN_EXIF[1])


def _webp_with_broken_exif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 16), "teal").save(buf, format="WEBP", lossless=True, exif=b"Exif\x00\x00" + BROKEN_EXIF[0])
    return buf.getvalue()


def _tiff_with_broken_second_page() -> bytes:
    buf = io.BytesIO()
    pages = [Image.new("RGB", (24, 16), "teal"), Image.new("RGB", (24, 16), "red")]
    pages[0].save(buf, format="TIFF", save_all=True, append_images=pages[1:])
    data = bytearray(buf.getvalue())
    # Point the second page's IFD offset (the 4 bytes after the first IFD) past the end of the file.
    first_ifd = int.from_bytes(data[4:8], "little")
    entries = int.from_bytes(data[first_ifd:first_ifd + 2], "little")
    next_at = first_ifd + 2 + 12 * entries
    data[next_at:next_at + 4] = (len(data) + 4096).to_bytes(4, "little")
    return bytes(data)


@pytest.mark.parametrize("make", [_png_with_broken_exif, _png_with_broken_sub_ifd, _webp_with_broken_exif,
                                  _tiff_with_broken_second_page], ids=["png-exif", "png-sub-ifd", "webp-exif", "tiff-page-2"])
def test_broken_metadata_never_escapes_the_guard(make):
    data = make()
    try:
        loaded = load_image(data, **LIMITS)
    except InvalidImage:
        return  # refused with a clear message is acceptable; anything else is not
    assert loaded.image.size == (24, 16)
    assert loaded.image.convert("RGB").getpixel((3, 3)) == (0, 128, 128)


def test_any_decoder_error_becomes_invalid_image(monkeypatch):
    """A decoder bug Pillow has not met yet (here: a KeyError in orientation handling) is a bad file, not a crash."""
    from PIL import ImageOps

    def broken(img):
        raise KeyError("surprise")

    monkeypatch.setattr(ImageOps, "exif_transpose", broken)
    loaded = load_image(_png_bytes(Image.new("RGB", (8, 8))), **LIMITS)
    assert any("damaged metadata" in n for n in loaded.notes)


def test_sixteen_bit_conversion_makes_no_float_copy():
    """A 16-bit grey image is stretched through a lookup table: the peak is a few bytes per pixel, not ~20."""
    import tracemalloc

    arr = (np.arange(2000 * 1500, dtype=np.uint32) % 60000).astype(np.uint16).reshape(1500, 2000)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    tracemalloc.start()
    loaded = load_image(buf.getvalue(), **LIMITS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    pixels = 2000 * 1500
    assert loaded.image.mode == "RGB"
    assert peak < 6 * pixels, f"{peak / pixels:.1f} bytes per pixel"


# ---- the decode budget -------------------------------------------------------------------------------------------
def test_the_decode_budget_makes_a_second_holder_wait_and_refuses_the_impossible():
    import threading

    from core.errors import ImageTooLarge as TooLarge, ServerBusy
    from core.images import DecodeBudget

    budget = DecodeBudget(100, wait_s=0.3)
    with pytest.raises(TooLarge):
        with budget.hold(101):
            pass
    order = []
    with budget.hold(70):
        with pytest.raises(ServerBusy):  # 70 + 40 > 100 and nobody releases within 0.3 s
            with budget.hold(40):
                pass

        def second():
            with budget.hold(40):
                order.append("second")

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.1)
        order.append("first done")
    thread.join(2)
    assert order == ["first done", "second"] and budget.in_use() == 0


def test_the_header_tells_the_decode_cost_before_any_pixel_is_decoded():
    from core.images import read_header

    arr = np.zeros((300, 400), np.uint16)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    data, header = read_header(buf.getvalue(), **LIMITS)
    assert (header.width, header.height, header.mode) == (400, 300, "I;16")
    assert header.decode_bytes == 400 * 300 * (2 * 2 + 2 * 4)


def test_large_freed_buffers_go_back_to_the_system_on_glibc():
    import platform

    from core.memory import release_large_buffers

    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert release_large_buffers() is True
