"""What held in issue 10's attack run, kept with tests: polyglot payloads and metadata never reach the stored
files, decompression bombs are refused fast with nothing stored, EXIF orientation is applied, and one owner
cannot use another owner's image ids or sessions through the pipeline.
"""

import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from pipeline.boundary.identity import owner_from_token
from tests.pipeline_util import make_pipeline, send
from tests.pipeline_util import db_state

ALICE = owner_from_token("alice-token-12345", "secret")
BOB = owner_from_token("bob-token-4567890", "secret")
PAYLOADS = (b"<script>alert(1)</script>", b"PK\x03\x04polyglot-zip", b"<?php system($_GET['c']); ?>")


@pytest.fixture
def pipe_store(settings):
    pipe, store = make_pipeline(settings)
    yield pipe, store
    store.close()


def _photo() -> Image.Image:
    rng = np.random.default_rng(1)
    return Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_polyglot() -> bytes:
    buf = io.BytesIO()
    _photo().save(buf, format="PNG")
    data = buf.getvalue()
    iend = data.rindex(b"IEND") - 4
    text = _chunk(b"tEXt", b"Comment\x00" + PAYLOADS[0])
    return data[:iend] + text + data[iend:] + PAYLOADS[1] + PAYLOADS[2]  # a chunk, then bytes after IEND


def _jpeg_with_metadata() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 0.0)})  # GPS latitude
    buf = io.BytesIO()
    _photo().save(buf, format="JPEG", exif=exif, comment=PAYLOADS[0], quality=95)
    return buf.getvalue() + PAYLOADS[1]


@pytest.mark.parametrize("make", [_png_polyglot, _jpeg_with_metadata], ids=["png", "jpeg"])
def test_polyglot_payloads_and_metadata_are_not_stored(pipe_store, make):
    pipe, store = pipe_store
    upload = make()
    assert sum(payload in upload for payload in PAYLOADS) >= 2  # the payloads really are in the upload
    if make is _jpeg_with_metadata:
        assert Image.open(io.BytesIO(upload)).getexif().get_ifd(0x8825)  # the upload carries a GPS position
    reply = send(pipe, "make it a bit brighter", images=[upload], force_intent="image_edit")
    assert reply.type == "image", reply.message
    stored = [p for p in store.images_dir.rglob("*.png")]
    assert len(stored) == 2  # the upload (re-encoded) and the result
    for path in stored:
        data = path.read_bytes()
        assert not any(payload in data for payload in PAYLOADS), path
        assert b"Exif" not in data and not Image.open(path).getexif()
        assert data.endswith(b"IEND\xaeB`\x82")  # nothing after the end of the PNG


def test_exif_orientation_is_applied_before_editing(pipe_store):
    pipe, store = pipe_store
    reply = send(pipe, "make it a bit brighter", images=[_jpeg_with_metadata()], force_intent="image_edit")
    assert (reply.images[0].width, reply.images[0].height) == (48, 64)  # upright: portrait


def _bomb() -> bytes:
    """A valid PNG header claiming 100,000 x 100,000 pixels (10 gigapixels) in a few hundred bytes."""
    header = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
    row = zlib.compressobj().compress(b"\x00" * 30_001)
    return header + _chunk(b"IDAT", row) + _chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_fast_and_nothing_is_stored(pipe_store):
    pipe, store = pipe_store
    before = db_state(store)
    started = time.perf_counter()
    reply = send(pipe, "upscale it", images=[_bomb()])
    assert time.perf_counter() - started < 2.0
    assert reply.type == "error" and reply.error["code"] == "image_too_large"
    assert db_state(store) == before


def test_another_owners_image_ids_and_sessions_are_not_found(pipe_store):
    pipe, store = pipe_store
    mine = send(pipe, "make it a bit brighter", images=[_jpeg_with_metadata()], force_intent="image_edit")
    before = db_state(store)
    for reply in (send(pipe, "rotate it", owner=BOB, image_ids=[mine.images[0].id], force_intent="image_edit"),
                  send(pipe, "rotate it", mine.session_id, owner=BOB, force_intent="image_edit")):
        assert reply.type == "error" and reply.error["code"] == "not_found", reply.message
    assert db_state(store) == before
