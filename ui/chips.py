"""Chip ids: what a chip under a reply carries to the browser and back, with nothing the server must trust.

A chip's message and context (the images it acts on, a forced intent, parameters) stay on the server: in the
stored reply's metadata (`chips`, see pipeline/run/suggest.py) or, for a reply that was not stored (a refused
message), in the run that produced it. The browser only gets an opaque id, `<ref>.<slot>.<tag>`: `ref` names
the reply (`m<message id>` or `r<run ticket>`), `slot` the chip's position (or `brush` for "Erase by
painting"), and `tag` is an HMAC of both with the owner, keyed from the server secret. A click sends the id
back; `parse` accepts it only for the owner it was issued to, and the caller reads the context from the server's
own copy. A forged, altered or foreign id is simply not a chip. Pure Python: no gradio import.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from pipeline.boundary.identity import derive_key

BRUSH = "brush"
_ID = re.compile(r"(?P<ref>[mr][0-9a-f]{1,32})\.(?P<slot>\d{1,2}|brush)\.(?P<tag>[0-9a-f]{24})")


class ChipIds:
    def __init__(self, secret: str):
        self._key = derive_key(secret, "chip-ids").encode()

    def issue(self, owner: str, ref: str, slot) -> str:
        return f"{ref}.{slot}.{self._tag(owner, ref, str(slot))}"

    def for_message(self, owner: str, message_id: int, slot) -> str:
        return self.issue(owner, f"m{int(message_id):x}", slot)

    def for_run(self, owner: str, ticket: str, slot) -> str:
        return self.issue(owner, f"r{ticket}", slot)

    def parse(self, owner: str, value) -> tuple[str, str] | None:
        """(ref, slot) when `value` is an id this server issued to `owner`, else None."""
        if isinstance(value, dict):  # Gradio hands the option itself on some paths
            value = value.get("value")
        if not isinstance(value, str) or len(value) > 80:
            return None
        match = _ID.fullmatch(value)
        if match is None:
            return None
        ref, slot = match["ref"], match["slot"]
        if not hmac.compare_digest(match["tag"], self._tag(owner, ref, slot)):
            return None
        return ref, slot

    def _tag(self, owner: str, ref: str, slot: str) -> str:
        return hmac.new(self._key, f"{owner}|{ref}|{slot}".encode(), hashlib.sha256).hexdigest()[:24]


def message_id_of(ref: str) -> int | None:
    return int(ref[1:], 16) if ref.startswith("m") else None


def ticket_of(ref: str) -> str | None:
    return ref[1:] if ref.startswith("r") else None
