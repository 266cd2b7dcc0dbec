"""`Turn`: one message on its way through the pipeline, handed from step to step instead of long argument lists.

It holds who sent the message and what it said, the validated context (plus the request's own callbacks: progress,
the cancel event, credentials, `on_session`), what is at hand (decoded attachments, a mask, the session's latest
image), what has been stored so far (the session, the user message and its image ids) and what the reply will
carry (its base metadata and the timings of each stage, measured with `timed`).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from core.jsonable import jsonable
from pipeline.boundary import schema

CREDENTIAL_KEYS = ("hf_token", "x_ip_token")  # set by the UI from the signed-in user / the request headers; never stored


@dataclass
class Turn:
    owner: str
    text: str
    context: dict
    title: str = ""
    session: Any = None  # SessionRow, once the message is stored (or when it continues one)
    attachments: list = field(default_factory=list)  # InputImage, in order
    mask: Any = None  # PIL "L" image
    notes: list = field(default_factory=list)  # what was done to the inputs, said in the reply
    latest: Any = None  # the session's latest image row before this message
    user_message_id: int | None = None
    image_ids: list = field(default_factory=list)  # the ids stored with the user message
    meta: dict = field(default_factory=dict)  # the reply's base metadata (intent, confidence, candidates…)
    started: float = field(default_factory=time.perf_counter)
    timings: dict = field(default_factory=dict)

    @property
    def session_id(self) -> str:
        return self.session.id if self.session is not None else ""

    @property
    def stored(self) -> bool:
        return self.user_message_id is not None

    @property
    def public_context(self) -> dict:
        """What of the context may be stored and sent back in chips (no callbacks, no credentials)."""
        return public_context(self.context)

    @property
    def attachment_ids(self) -> list[str]:
        return [inp.image_id for inp in self.attachments]

    @property
    def progress(self):
        return self.context.get("progress")

    @property
    def cancel_event(self):
        return self.context.get("cancel_event")

    @property
    def credentials(self) -> dict:
        return {key: self.context[key] for key in CREDENTIAL_KEYS if self.context.get(key)}

    @contextmanager
    def timed(self, stage: str):
        """Record how long the block took as `timings["<stage>_ms"]`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[f"{stage}_ms"] = elapsed_ms(started)


def elapsed_ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)


def public_context(context: dict) -> dict:
    return {k: v for k, v in context.items() if k in schema.CONTEXT_KEYS and jsonable(v)}
