"""Recovering from requests that did not finish: a "try again" chip, and the start-up repair after a crash.

A user message is stored before its capability runs, so a `kill -9` (or a power cut) in the middle of a long
run leaves it without a reply. `repair_interrupted(store)` runs once at start-up: every such message gets an
"interrupted — try again" error reply whose chip sends the same text with the same images and parameters
again. The same chip goes under the error reply of a request that failed unexpectedly. Sessions with no message
at all (which versions before the draft chat created when a message was sent) are removed at the same time. It assumes one gateway
process per database (the design's single-process deployment): a second process starting on a database
another one is serving would answer the other's in-flight messages.
"""

from __future__ import annotations

import logging

from core.errors import Interrupted
from pipeline.run.response import ERROR, Response

log = logging.getLogger(__name__)

INTERRUPTED_MESSAGE = "This request was interrupted (the server stopped before it finished). Nothing was lost — try again."
_CARRIED_KEYS = ("force_intent", "params", "consent")  # what a retry keeps of the original context


def retry_action(text: str, image_ids, public_context: dict | None) -> dict:
    """A chip that sends `text` again with the same images and the same forced intent and parameters."""
    context = {key: value for key, value in (public_context or {}).items()
               if key in _CARRIED_KEYS and value is not None}
    context["image_ids"] = list(image_ids)
    return {"id": "retry", "label": "Try again", "message": text, "context": context}


def repair_interrupted(store) -> int:
    """Answer every user message a crash left without a reply; returns how many were answered."""
    repaired = 0
    for owner, row in store.unanswered_messages():
        error = Interrupted(INTERRUPTED_MESSAGE)
        reply = Response(session_id=row.session_id, message_id=None, type=ERROR, message=error.message,
                         error=error.to_dict(), metadata={"user_message_id": row.id},
                         actions=[retry_action(row.content, [img.id for img in row.images],
                                               row.metadata.get("context"))])
        try:
            store.add_message(row.session_id, owner, "assistant", reply.message, metadata=reply.metadata_for_store())
            repaired += 1
        except Exception:  # noqa: BLE001 - one bad row must not stop the server from starting
            log.exception("could not answer interrupted message %s", row.id)
    if repaired:
        log.warning("answered %d message(s) left unanswered by an interrupted run", repaired)
    empty = store.delete_empty_sessions()  # chats an older version opened before their first message was stored
    if empty:
        log.warning("removed %d empty chat(s)", empty)
    return repaired
