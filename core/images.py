"""Reading untrusted image files safely and writing result images fast.

`load_image` is the one door through which uploaded bytes become a `PIL.Image`: it checks size limits
before decoding (decompression bombs), decodes fully (truncated files fail here, not later inside a model),
applies the EXIF orientation, takes the first frame of animations and converts every mode (CMYK, 16-bit,
palette, LA…) to RGB or RGBA — RGBA whenever the file has transparency, an alpha channel or a PNG
transparency key (tRNS) alike. Everything a file carries is parsed inside that one guard — EXIF, ICC, XMP,
later pages of a TIFF, animation frames: broken metadata is ignored (the pixels still count), and a file whose
pixels cannot be decoded is `invalid_image`, never an unexpected error. `DecodeBudget` bounds the memory that
decoding holds at once across every request of the process, counted in bytes from the header (pixels × the
bytes each pixel takes while it is decoded and converted), so many large files sent together wait their turn
instead of exhausting the machine. `encode_png` writes PNGs with provenance text chunks fast (fpng, or Pillow
at a chosen zlib level), because Pillow's default level costs ~1 s for a 1024² image on these CPUs.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import struct
import threading
import time
import warnings
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from core.errors import GatewayError, ImageTooLarge, InvalidImage, ServerBusy

ACCEPTED_FORMATS = {"PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}
# Bytes per pixel Pillow holds for a mode (RGB is stored as 4 bytes); unknown modes count as 4.
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 4, "PA": 4, "La": 4, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2,
               "I": 4, "F": 4, "RGB": 4, "RGBA": 4, "RGBX": 4, "RGBa": 4, "CMYK": 4, "YCbCr": 4, "LAB": 4, "HSV": 4}
_CONVERTED_BYTES = 4  # the RGB/RGBA result


@dataclass(frozen=True)
class LoadedImage:
    image: Image.Image
    notes: tuple[str, ...] = ()  # what was done to make it usable, said to the user when not obvious


@dataclass(frozen=True)
class ImageHeader:
    """What a file says about itself before any pixel is decoded."""
    width: int
    height: int
    mode: str
    format: str

    @property
    def decode_bytes(self) -> int:
        """Peak bytes while decoding and converting: the decoded pixels, an orientation copy, a conversion
        buffer and the RGB(A) result."""
        return self.width * self.height * (2 * _MODE_BYTES.get(self.mode, 4) + 2 * _CONVERTED_BYTES)


class DecodeBudget:
    """Bytes that decoded images may hold at once, shared by every request of the process.

    `hold(n)` waits (up to `wait_s`) until `n` bytes are free; a request that alone needs more than the whole
    budget is refused at once. Holders release on exit, so a request keeps its share while it works on the
    decoded images and the next large file waits instead of adding its pixels on top."""

    def __init__(self, total_bytes: int, wait_s: float = 60.0):
        self.total = max(1, int(total_bytes))
        self.wait_s = wait_s
        self._used = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, nbytes: int, label: str = "the image"):
        nbytes = max(0, int(nbytes))
        if nbytes > self.total:
            raise ImageTooLarge(f"{label.capitalize()} needs about {nbytes / 2**20:,.0f} MB of memory to decode; "
                                f"this server allows {self.total / 2**20:,.0f} MB.",
                                suggestions=["Resize the image (or save it as 8-bit) before uploading."])
        deadline = time.monotonic() + self.wait_s
        with self._cond:
            while self._used + nbytes > self.total:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ServerBusy("Other large images are being processed right now; please try again in a "
                                     "minute.", suggestions=["Try again in a minute."])
                self._cond.wait(min(left, 1.0))
            self._used += nbytes
        try:
            yield
        finally:
            with self._cond:
                self._used -= nbytes
                self._cond.notify_all()

    def in_use(self) -> int:
        with self._cond:
            return self._used

    def resize(self, total_bytes: int) -> None:
        with self._cond:
            self.total = max(1, int(total_bytes))
            self._cond.notify_all()


def read_header(source, *, max_bytes: int, max_pixels: int, label: str = "the image") -> tuple[bytes, ImageHeader]:
    """The file's bytes and header (size, mode, format), checked against the limits; no pixel is decoded."""
    data = _read_bytes(source, max_bytes=max_bytes, label=label)
    with _guard(label):
        img = _open(data, label)
        header = ImageHeader(img.width, img.height, img.mode, img.format or "")
    _check_size(header.width, header.height, max_pixels, label)
    return data, header


def load_image(source, *, max_bytes: int, max_pixels: int, label: str = "the image") -> LoadedImage:
    """Decode `source` (a path, bytes, or an already open PIL image) into an RGB/RGBA image or raise InvalidImage."""
    if isinstance(source, Image.Image):
        with _guard(label):
            return _normalise(source, max_pixels=max_pixels, label=label)
    data = _read_bytes(source, max_bytes=max_bytes, label=label)
    with _guard(label):
        img = _open(data, label)
        _check_size(img.width, img.height, max_pixels, label)
        notes = []
        if _frame_count(img) > 1:
            notes.append(f"{label} has several frames or pages; I used the first frame")
        try:
            img.load()
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            raise InvalidImage(f"{label.capitalize()} is damaged or truncated and cannot be decoded ({exc}).",
                               suggestions=["Export the image again and re-attach it."]) from None
        loaded = _normalise(img, max_pixels=max_pixels, label=label)
        return LoadedImage(loaded.image, tuple(notes) + loaded.notes)


@contextmanager
def _guard(label: str):
    """Whatever a hostile file makes Pillow raise becomes `invalid_image` (or `image_too_large`)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)  # Pillow: "Corrupt EXIF data" (ignored, as the data is)
            yield
    except GatewayError:
        raise
    except (Image.DecompressionBombError, MemoryError):
        raise ImageTooLarge(f"{label.capitalize()} is far larger than allowed.",
                            suggestions=["Resize it before uploading."]) from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure on untrusted bytes is a bad file, not a bug
        raise InvalidImage(f"{label.capitalize()} is damaged and cannot be read ({type(exc).__name__}).",
                           suggestions=["Export the image again and re-attach it."]) from None


def _open(data: bytes, label: str) -> Image.Image:
    if not data:
        raise InvalidImage(f"{label.capitalize()} is an empty file (0 bytes).", suggestions=["Attach the image again."])
    try:
        img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise InvalidImage(f"{label.capitalize()} is not an image file Pillow can read (PNG, JPEG, WebP, GIF, BMP, TIFF).",
                           suggestions=["Attach a PNG or JPEG image."]) from None
    if img.format not in ACCEPTED_FORMATS:
        raise InvalidImage(f"{label.capitalize()} is a {img.format} file; only PNG, JPEG, WebP, GIF, BMP and TIFF are accepted.")
    return img


def _check_size(width: int, height: int, max_pixels: int, label: str) -> None:
    if width <= 0 or height <= 0:
        raise InvalidImage(f"{label.capitalize()} has no pixels ({width}x{height}).")
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"{label.capitalize()} is {width}x{height} = {width * height / 1e6:.1f} megapixels; the limit is "
            f"{max_pixels / 1e6:.1f} megapixels.",
            suggestions=["Resize the image before uploading."], details={"width": width, "height": height})


def _frame_count(img: Image.Image) -> int:
    """Frames or pages: counting them parses every later page, so a broken one only means "one frame"."""
    try:
        count = int(getattr(img, "n_frames", 1) or 1)
    except Exception:  # noqa: BLE001 - a damaged later page; the first one is what we use
        count = 1
    try:
        img.seek(0)
    except Exception:  # noqa: BLE001 - already on the first frame
        pass
    return count


def _read_bytes(source, *, max_bytes: int, label: str) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        path = Path(getattr(source, "path", None) or source)
        try:
            if not path.is_file():
                raise InvalidImage(f"{label.capitalize()} could not be read (file not found).")
            size = path.stat().st_size
            if size > max_bytes:
                raise ImageTooLarge(f"{label.capitalize()} is {size / 2**20:.1f} MB; the upload limit is "
                                    f"{max_bytes / 2**20:.1f} MB.")
            with open(path, "rb") as handle:
                data = handle.read(min(size, max_bytes) + 1)  # never more than the limit, however it grows
        except OSError:
            raise InvalidImage(f"{label.capitalize()} could not be read (file not found).") from None
    if len(data) > max_bytes:
        raise ImageTooLarge(f"{label.capitalize()} is {len(data) / 2**20:.1f} MB; the upload limit is {max_bytes / 2**20:.1f} MB.")
    return data


def _normalise(img: Image.Image, *, max_pixels: int, label: str) -> LoadedImage:
    if img.width * img.height > max_pixels:
        raise ImageTooLarge(f"{label.capitalize()} is larger than {max_pixels / 1e6:.1f} megapixels.")
    notes = []
    img = _oriented(img, label, notes)
    mode = img.mode
    # A transparency key (PNG tRNS: one grey level, one RGB colour, or palette entries) becomes a real alpha
    # channel, so every capability sees it and the stored PNG keeps it.
    keyed = "transparency" in img.info and mode not in ("RGBA", "LA", "PA")
    if mode in ("RGB", "RGBA") and not keyed:
        out = img
    elif mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
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
    out.info.clear()  # EXIF, ICC, XMP, comments: nothing of the file's metadata travels with the pixels
    return LoadedImage(out, tuple(notes))


def _oriented(img: Image.Image, label: str, notes: list) -> Image.Image:
    """The EXIF (or XMP) orientation applied; metadata too broken to read is ignored, the pixels still count."""
    try:
        return ImageOps.exif_transpose(img) or img
    except Exception:  # noqa: BLE001 - a damaged EXIF/XMP block says nothing reliable about orientation
        notes.append(f"{label} carried damaged metadata (EXIF); I ignored it")
        return img


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
    """16-bit, 32-bit integer or float grey stretched to 8 bits over its own range. 16-bit goes through a
    65,536-entry lookup table (one byte per pixel, no float copy of the image); wider modes row band by band."""
    import numpy as np

    arr = np.asarray(img)
    lo, hi = float(arr.min()), float(arr.max())
    if arr.dtype.itemsize == 2 and arr.dtype.kind in "ui":
        offset = 32768 if arr.dtype.kind == "i" else 0
        levels = np.arange(65536, dtype=np.float32) - offset
        lut = (np.zeros(65536, np.uint8) if hi <= lo else
               np.clip((levels - lo) * (255.0 / (hi - lo)) + 0.5, 0, 255).astype(np.uint8))
        index = arr.astype(np.uint16, copy=False) if not offset else (arr.astype(np.int32) + offset).astype(np.uint16)
        grey = lut[index]
    else:
        grey = np.empty(arr.shape, np.uint8)
        scale = 0.0 if hi <= lo else 255.0 / (hi - lo)
        band = max(1, 4_000_000 // max(1, arr.shape[1]))
        for top in range(0, arr.shape[0], band):
            rows = arr[top:top + band].astype(np.float32)
            grey[top:top + band] = np.clip((rows - lo) * scale + 0.5, 0, 255).astype(np.uint8)
    del arr
    return Image.fromarray(grey, "L").convert("RGB")


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
