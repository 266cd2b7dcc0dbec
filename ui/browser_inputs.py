"""What the page's own events receive from the browser, checked like API input before anything uses it.

Gradio registers an HTTP endpoint for every event the page wires, so the chat box, the chips, the examples, the
brush and the chat list are reachable by anyone with plain HTTP, whatever the page would have sent. Here each
value is reduced to what the server can vouch for:
- the browser state is a dict of three known keys of known shapes (an unknown token is replaced by a fresh
  128-bit one, an ill-formed session id or draft key is dropped);
- files are those Gradio uploaded in a request (inside its upload folder, regular files, not one of this
  instance's own exports or brush strokes): a string from the client is never a path to anything else;
- an example is picked by its index in the server's own list (its value in the event is ignored);
- the brush's strokes are decoded by the same guarded decoder as uploads, and the editor's blob store (a
  server function of gr.ImageEditor that keeps uploaded layers in memory) is bounded.
Chips are handled in ui/chips.py (opaque ids; the server keeps their context).
"""

from __future__ import annotations

import logging
import os
import re
from collections import OrderedDict
from pathlib import Path

from core.errors import GatewayError
from core.images import load_image

log = logging.getLogger(__name__)

TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")  # what new_browser_token() makes (url-safe base64 of >= 16 bytes)
SESSION = re.compile(r"[0-9a-f]{32}")
DRAFT = re.compile(r"draft:[0-9a-f]{32}")
MAX_LAYERS = 4  # the brush has one layer; a few more are tolerated, never more
MAX_EDITOR_BLOBS = 64  # editor uploads kept in memory between its upload and the event that reads it


def clean_state(state, new_token) -> dict:
    """The browser state reduced to {token, session_id, draft} of the right shapes."""
    state = state if isinstance(state, dict) else {}
    token = state.get("token")
    session_id = state.get("session_id")
    draft = state.get("draft")
    clean = {"token": token if isinstance(token, str) and TOKEN.fullmatch(token) else new_token(),
             "session_id": session_id if isinstance(session_id, str) and SESSION.fullmatch(session_id) else ""}
    if isinstance(draft, str) and DRAFT.fullmatch(draft):
        clean["draft"] = draft
    return clean


def uploaded_files(values, upload_folder, never_under=()) -> list[str]:
    """The paths among `values` that are files Gradio uploaded (regular files inside its upload folder, outside
    `never_under`); anything else — another path, a URL, a directory, a device, a link out — is left out."""
    if not upload_folder:
        return []
    root = Path(upload_folder).resolve()
    excluded = [Path(p).resolve() for p in never_under if p]
    kept = []
    for value in values or []:
        if isinstance(value, dict):
            value = value.get("path")
        if not isinstance(value, (str, os.PathLike)) or not str(value) or "\x00" in str(value):
            continue
        try:
            path = Path(value).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            continue
        if not path.is_relative_to(root) or any(path.is_relative_to(e) for e in excluded) or not path.is_file():
            continue
        kept.append(str(path))
    return kept


def example_at(index, examples: list[dict]) -> dict | None:
    """The server's own example at `index` (an int the event reports), else None."""
    if isinstance(index, list) and len(index) == 1:
        index = index[0]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(examples):
        return None
    return examples[index]


def strokes_from_editor(value, *, max_bytes: int, max_pixels: int):
    """The painted strokes of the brush editor as an RGBA layer (None when nothing was painted or the layer is
    not an image the guarded decoder accepts)."""
    if not isinstance(value, dict):
        return None
    for layer in (value.get("layers") or [])[:MAX_LAYERS]:
        if layer is None:
            continue
        try:
            image = load_image(layer, max_bytes=max_bytes, max_pixels=max_pixels, label="the painted layer").image
        except GatewayError as exc:
            log.info("brush layer refused: %s", exc.message)
            continue
        if image.mode == "RGBA" and image.getextrema()[3][1] > 0:
            return image
    return None


def guard_image_editor(editor_class, *, max_blobs: int = MAX_EDITOR_BLOBS) -> None:
    """Make gr.ImageEditor safe to expose: its `preprocess` hands over the layers as uploaded file paths
    (decoded later by `strokes_from_editor`, inside the guard and the limits) instead of decoding background,
    layers and composite itself; its `accept_blobs` server function refuses odd types and layer indexes and
    keeps at most `max_blobs` uploads in memory. Patched on the class, because Gradio builds a new instance
    for every update of the component and the patch must hold for all of them."""
    if getattr(editor_class, "_gateway_guarded", False):
        return
    original_accept = editor_class.accept_blobs

    def accept_blobs(self, data):
        kind = str((data.data or {}).get("type", "")) if hasattr(data, "data") else ""
        index = (data.data or {}).get("index") if hasattr(data, "data") else None
        if kind not in ("background", "layer", "composite"):
            return None
        if kind == "layer" and not (isinstance(index, (str, int)) and str(index).isdigit() and int(index) < MAX_LAYERS):
            return None
        store = self.blob_storage
        if not isinstance(store, OrderedDict):
            self.blob_storage = store = OrderedDict(store)
        try:
            result = original_accept(self, data)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            return None  # a malformed upload is simply not kept
        while len(store) > max_blobs:
            store.popitem(last=False)
        return result

    accept_blobs._is_server_fn = True

    def preprocess(self, payload):
        if payload is None:
            return None
        blobs = self.blob_storage.pop(payload.id, None) if payload.id is not None else None
        layers = (blobs.layers if blobs is not None else payload.layers) or []
        out = []
        for layer in layers[:MAX_LAYERS]:
            if layer is None:
                continue
            out.append(layer.path if hasattr(layer, "path") else bytes(layer))
        return {"background": None, "layers": out, "composite": None}

    editor_class.accept_blobs = accept_blobs
    editor_class.preprocess = preprocess
    editor_class._gateway_guarded = True
