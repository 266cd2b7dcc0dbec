"""Reading untrusted image files safely and writing result images fast.

`load_image` is the one door through which uploaded bytes become a `PIL.Image`: it checks size limits
before decoding (decompression bombs), decodes fully (truncated files fail here, not later inside a model),
applies the EXIF orientation, takes the first frame of animations and converts every mode (CMYK, 16-bit,
palette, LA…) to RGB or RGBA — RGBA whenever the file has transparency, an alpha channel or a PNG
transparency key (tRNS) alike. `encode_png` writes PNGs with provenance text chunks fast (fpng, or Pillow at
a chosen zlib level), because Pillow's default level costs ~1 s for a 1024² image on these CPUs.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from core.errors import ImageTooLarge, InvalidImage

ACCEPTED_FORMATS = {"PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}


@dataclass(frozen=True)
class LoadedImage:
    image: Image.Image
    notes: tuple[str, ...] = ()  # what was done to make it usable, said to the user when not obvious


def load_image(source, *, max_bytes: int, max_pixels: int, label: str = "the image") -> LoadedImage:
    """Decode `source` (a path, bytes, or an already open PIL image) into an RGB/RGBA image or raise InvalidImage."""
    if isinstance(source, Image.Image):
        return _normalise(source, max_pixels=max_pixels, label=label)
    data = _read_bytes(source, max_bytes=max_bytes, label=label)
    if not data:
        raise InvalidImage(f"{label.capitalize()} is an empty file (0 bytes).", suggestions=["Attach the image again."])
    try:
        # Pillow's own bomb check works in "warn" mode at 1x and raises at 2x its limit; ours is stricter.
        img = Image.open(io.BytesIO(data))
        img_format = img.format
    except UnidentifiedImageError:
        raise InvalidImage(f"{label.capitalize()} is not an image file Pillow can read (PNG, JPEG, WebP, GIF, BMP, TIFF).",
                           suggestions=["Attach a PNG or JPEG image."]) from None
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"{label.capitalize()} is far larger than allowed.", suggestions=["Resize it before uploading."]) from None
    except (OSError, SyntaxError, ValueError) as exc:  # a known header followed by garbage
        raise InvalidImage(f"{label.capitalize()} is damaged and cannot be read ({exc}).",
                           suggestions=["Export the image again and re-attach it."]) from None
    if img_format not in ACCEPTED_FORMATS:
        raise InvalidImage(f"{label.capitalize()} is a {img_format} file; only PNG, JPEG, WebP, GIF, BMP and TIFF are accepted.")
    w, h = img.size
    if w * h > max_pixels:
        raise ImageTooLarge(
            f"{label.capitalize()} is {w}x{h} = {w * h / 1e6:.1f} megapixels; the limit is {max_pixels / 1e6:.1f} megapixels.",
            suggestions=["Resize the image before uploading."], details={"width": w, "height": h})
    notes = []
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)
        notes.append(f"{label} is animated; I used its first frame")
    try:
        img.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidImage(f"{label.capitalize()} is damaged or truncated and cannot be decoded ({exc}).",
                           suggestions=["Export the image again and re-attach it."]) from None
    loaded = _normalise(img, max_pixels=max_pixels, label=label)
    return LoadedImage(loaded.image, tuple(notes) + loaded.notes)


def _read_bytes(source, *, max_bytes: int, label: str) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        path = Path(getattr(source, "path", None) or source)
        try:
            size = path.stat().st_size
        except OSError:
            raise InvalidImage(f"{label.capitalize()} could not be read (file not found).") from None
        if size > max_bytes:
            raise ImageTooLarge(f"{label.capitalize()} is {size / 2**20:.1f} MB; the upload limit is {max_bytes / 2**20:.1f} MB.")
        data = path.read_bytes()
    if len(data) > max_bytes:
        raise ImageTooLarge(f"{label.capitalize()} is {len(data) / 2**20:.1f} MB; the upload limit is {max_bytes / 2**20:.1f} MB.")
    return data


def _normalise(img: Image.Image, *, max_pixels: int, label: str) -> LoadedImage:
    if img.width * img.height > max_pixels:
        raise ImageTooLarge(f"{label.capitalize()} is larger than {max_pixels / 1e6:.1f} megapixels.")
    notes = []
    img = ImageOps.exif_transpose(img) or img
    mode = img.mode
    # A transparency key (PNG tRNS: one grey level, one RGB colour, or palette entries) becomes a real alpha
    # channel, so every capability sees it and the stored PNG keeps it.
    keyed = "transparency" in img.info and mode not in ("RGBA", "LA", "PA")
    if mode in ("RGB", "RGBA") and not keyed:
        out = img
    elif mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        out = _high_bit_depth_to_rgb(img)
        if keyed:
            out = _with_key_alpha(out, img)
        notes.append(f"{label} had {mode} pixels; I converted it to 8-bit RGB")
    elif mode in ("LA", "PA") or keyed:
        out = img.convert("RGBA")
    elif mode == "CMYK":
        out = img.convert("RGB")
        notes.append(f"{label} was CMYK; I converted it to RGB")
    else:  # L, 1, P, YCbCr, LAB, HSV
        out = img.convert("RGB")
    if out is img:
        out = img.copy()
    out.info.pop("exif", None)
    out.info.pop("transparency", None)  # now in the alpha channel (or meaningless after the conversion)
    return LoadedImage(out, tuple(notes))


def _with_key_alpha(rgb: Image.Image, original: Image.Image) -> Image.Image:
    """RGBA from `rgb` with alpha 0 wherever `original` (a high-bit-depth grey image) equals its key value."""
    import numpy as np

    key = original.info["transparency"]
    if isinstance(key, (tuple, list)):
        key = key[0]
    alpha = np.where(np.asarray(original) == key, 0, 255).astype("uint8")
    out = rgb.convert("RGBA")
    out.putalpha(Image.fromarray(alpha, "L"))
    return out


def _high_bit_depth_to_rgb(img: Image.Image) -> Image.Image:
    import numpy as np

    arr = np.asarray(img, dtype=np.float64)
    lo, hi = float(arr.min()), float(arr.max())
    scaled = np.zeros_like(arr) if hi <= lo else (arr - lo) / (hi - lo) * 255.0
    return Image.fromarray(scaled.round().astype("uint8"), "L").convert("RGB")


def encode_png(img: Image.Image, *, text: dict[str, str] | None = None, compress_level: int = 1) -> bytes:
    """PNG bytes with tEXt/iTXt chunks (provenance, A1111 `parameters`).

    At level 1 or below, RGB and RGBA images go through fpng (the `fpng` wheel, MIT: ~1.5 ms for 512² where
    Pillow's zlib level 1 takes ~25 ms, for about the same size); the text chunks are then put right after
    IHDR, where Pillow puts them. Other modes (the "L" masks), higher levels or a missing wheel use Pillow."""
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, value) if not value.isascii() else info.add_text(key, value)
    if img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    if compress_level <= 1 and img.mode in ("RGB", "RGBA"):
        fast = _fpng()
        if fast is not None:
            data = fast.from_pil(img)
            if data[:8] == _PNG_SIGNATURE and data[12:16] == b"IHDR":
                ihdr_end = 8 + 12 + int.from_bytes(data[8:12], "big")
                return data[:ihdr_end] + b"".join(_chunk(cid, body) for cid, body, *_ in info.chunks) + data[ihdr_end:]
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info, compress_level=compress_level)
    return buf.getvalue()


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(cid: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + cid + body + zlib.crc32(cid + body).to_bytes(4, "big")


@functools.cache
def _fpng():
    try:
        import fpng
    except ImportError:  # an optional speed-up: Pillow writes the same PNGs, only slower
        return None
    return fpng


def png_text(data_or_path) -> dict[str, str]:
    """Text chunks of a PNG (for tests and for reading provenance back)."""
    src = io.BytesIO(data_or_path) if isinstance(data_or_path, (bytes, bytearray)) else data_or_path
    with Image.open(src) as img:
        return {k: v for k, v in img.info.items() if isinstance(v, str)}


def recipe_from_png(data_or_path) -> dict | None:
    raw = png_text(data_or_path).get("gateway_recipe")
    return json.loads(raw) if raw else None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
