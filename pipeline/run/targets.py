"""Pronoun targets: "get rid of it", "remove him" — what does "it" name?

The router leaves a bare pronoun out of an erase request's `target` and marks it (`target_pronoun`). Before
the plan runs, `resolve_pronoun_targets` looks back through the user's recent messages in this conversation
for the last object they named as something to erase or point at ("there's a man on the left", "erase the
dog", "see that lamp post?") and uses it, with a note saying so. With a painted mask the mask says what to
erase and nothing is looked up; with nothing named earlier the target stays empty and the capability asks.
"""

from __future__ import annotations

import re

from core.vocabulary import OBJECT_REMOVAL
from pipeline.understand.params import extract_params

LOOK_BACK = 12  # messages
_POINTING = (
    re.compile(r"\b(?:there'?s|there is|there are|i see|i can see|you can see|see|look at|notice|spot|what about)\s+"
               r"(?:a |an |the |that |this |those |these |some )?(?P<t>[a-z][\w' -]{1,40}?)"
               r"(?=\s*(?:$|[,.;!?]| on | in | at | near | by | behind | next to | over | under ))"),
)
_NOT_OBJECTS = {"it", "this", "that", "image", "picture", "photo", "background", "result", "way", "problem", "thing",
                "something", "anything", "nothing", "everything", "one", "them"}


def named_object(text: str) -> str | None:
    """The object a message names to erase or points at, or None."""
    lowered = " ".join((text or "").lower().split())
    target = extract_params(lowered, OBJECT_REMOVAL).get("target")
    if target and target.split()[0] not in _NOT_OBJECTS:
        return target
    for pattern in _POINTING:
        match = pattern.search(lowered)
        if match:
            found = match.group("t").strip()
            if found and found.split()[0] not in _NOT_OBJECTS:
                return found
    return None


def resolve_pronoun_targets(plan, store, session_id: str, owner: str, has_mask: bool) -> list[str]:
    """Fill the target of erase steps that said only "it"/"him"/"that"; returns notes for the reply."""
    notes = []
    history = None
    for step in plan.steps:
        params = step.intent.params
        pronoun = params.pop("target_pronoun", False)
        if step.intent.name != OBJECT_REMOVAL or not pronoun or params.get("target") or has_mask:
            continue
        if history is None:
            history = [row for row in store.history(session_id, owner, limit=LOOK_BACK) if row.role == "user"]
        for row in reversed(history[:-1]):  # the last one is this message
            found = named_object(row.content)
            if found:
                params["target"] = found
                notes.append(f"I took “{_pronoun(step.text)}” to mean the {found} you mentioned")
                break
    return notes


def _pronoun(text: str) -> str:
    match = re.search(r"\b(it|him|her|them|this|that|those|these)\b", (text or "").lower())
    return match.group(1) if match else "it"
