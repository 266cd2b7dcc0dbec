"""How the remote executor's wire messages travel through Gradio: small payloads inline, large ones as files.

A message is `{"header": <codec header>, "inline": [base64 PNG…]}` plus a list of files. Up to
`INLINE_LIMIT` bytes of PNG ride inside the JSON (one HTTP exchange instead of an upload and a download per
image, which is most of a loopback call's cost); above it every blob goes as a file, so a 100 MB upscale never
becomes a 133 MB JSON string. The worker's token and the caller's ZeroGPU `x-ip-token` travel as headers.
"""

from __future__ import annotations

import base64
import tempfile
import time
import uuid
from pathlib import Path

INLINE_LIMIT = 2 * 2**20
TOKEN_HEADER = "x-gateway-worker-token"
IP_TOKEN_HEADER = "x-ip-token"
SPOOL = Path(tempfile.gettempdir()) / "gateway-remote"
SPOOL_MAX_AGE_S = 15 * 60


def pack(header: dict, blobs: list[bytes]) -> tuple[dict, list[str]]:
    """(message, file paths) for `header` and its blobs."""
    if sum(len(b) for b in blobs) <= INLINE_LIMIT:
        return {"header": header, "inline": [base64.b64encode(b).decode("ascii") for b in blobs]}, []
    folder = SPOOL / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, blob in enumerate(blobs):
        path = folder / f"{index}.png"
        path.write_bytes(blob)
        paths.append(str(path))
    return {"header": header, "files": len(paths)}, paths


def unpack(message: dict, paths: list[str]) -> tuple[dict, list[bytes]]:
    if not isinstance(message, dict) or not isinstance(message.get("header"), dict):
        from pipeline.executors.codec import WireError

        raise WireError("The other side sent a message this gateway cannot read.")
    if "inline" in message:
        return message["header"], [base64.b64decode(b) for b in message["inline"]]
    return message["header"], [Path(p).read_bytes() for p in paths]


def sweep_spool(max_age_s: float = SPOOL_MAX_AGE_S) -> None:
    """Remove spooled files older than `max_age_s` (Gradio has copied them by then)."""
    if not SPOOL.is_dir():
        return
    cutoff = time.time() - max_age_s
    for folder in SPOOL.iterdir():
        try:
            if folder.stat().st_mtime < cutoff:
                for f in folder.iterdir():
                    f.unlink(missing_ok=True)
                folder.rmdir()
        except OSError:
            continue
