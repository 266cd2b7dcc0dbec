"""Compound requests: one message as an ordered plan of capability runs, without an LLM.

"draw a lighthouse, then upscale it 2x" is two steps; "a cat and a dog on a sofa" is one. `split_clauses`
(`clauses.py`) cuts the message where a new command starts and orders the clauses as the connectors say.
`make_plan` then classifies each clause in the context it will run in (the first one with the message's
attachments, later ones on the previous step's output) and merges what is not a step of its own: a fragment too
doubtful to act on, or a chat filler, joins the step before it; two clauses with the same intent are one run
(except basic edits, which the user listed one by one); "…and put it on white" joins a background removal as its
replacement colour — only a colour said of the background, never "make it black and white", which is an edit. A
command clause that names a capability stays a step even when its intent is unsure. A message that stays one
step is routed whole, exactly as a single request. Pure Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.vocabulary import (BACKGROUND_REMOVAL, CHAT, HUMAN_NAMES, IMAGE_EDIT, IMAGE_GENERATION, STYLE_TRANSFER,
                             UPSCALE)
from pipeline.understand.classify import ClassifyContext, Intent
from pipeline.understand.router.clauses import request_part, split_clauses

__all__ = ["Plan", "Step", "make_plan", "split_clauses", "is_background_only"]

# What a step is called on the routing card and in progress messages.
STEP_LABELS = {
    "image_generation": "Generate the image",
    "face_swap": "Swap the face",
    "background_removal": "Remove the background",
    "object_removal": "Erase the object",
    "style_transfer": "Apply the style",
    "upscale": "Upscale",
    "image_edit": "Edit",
    "chat": "Answer",
}

EDIT_LABELS = {"rotate": "Rotate", "flip": "Flip", "crop": "Crop", "resize": "Resize", "brightness": "Brightness",
               "contrast": "Contrast", "saturation": "Saturation", "grayscale": "Black and white", "sepia": "Sepia",
               "blur": "Blur", "sharpen": "Sharpen"}

# "…, put it on white", "…and make it transparent": a background removal's replacement colour, not a step.
_BACKGROUND_ONLY = re.compile(
    r"^(?:(?:please|pls|and|also|then)\s+)*(?:(?:put|place|set|drop|paste|stick)\s+(?:it|them|him|her|this|that|the \w+)\s+"
    r"(?:on|onto|against|over|in front of)\b|(?:make|leave|keep)\s+(?:it|the (?:background|bg|backdrop))\s+"
    r"(?:transparent|white|black|plain)\b|(?:on|against)\s+(?:a\s+)?(?:plain\s+|solid\s+|pure\s+)?\w+(?:\s+background)?$|"
    r"(?:with\s+|give it\s+)?(?:a\s+)?(?:transparent|white|black|plain|solid \w+|\w+ colou?red) (?:background|bg|backdrop)\b|"
    r"(?:make|turn|change|set|paint|colou?r)\s+the (?:background|bg|backdrop)\b|"
    r"(?:replace|fill|swap)\s+(?:it|them|the (?:background|bg|backdrop))\s+(?:with|for)\s+(?:an?\s+)?(?:solid\s+|plain\s+|pure\s+)?"
    r"[a-z]+(?:\s+[a-z]+)?\s*$)", re.I)
# Words that make a clause an edit of the picture's colours ("make it black and white"), whatever else it says.
_GRAYSCALE = re.compile(r"\b(?:black\s*(?:and|&|n|-n-|-and-)\s*white|b\s*[&/]\s*w|gr[ae]y\s*-?\s*scale|monochrome|"
                        r"desaturat\w*|sepia)\b", re.I)
# A clause that gives an order: a fragment such as "watercolor" or "soft light" is not one.
_ORDER = re.compile(r"^(?:(?:please|pls|and|also|then|now|just|could you|can you|would you)\s+)*[a-z]+(?:\s+\w+)?\s+"
                    r"(?:it|this|that|them|the|a|an|my|to|into|by|up|out|off|away|\d)", re.I)


# A style asked for by what it looks like, even one the catalogue does not know ("like a postcard from the 60s").
_STYLE_NAMED = re.compile(r"\b(?:like|into|as an?|style|styled|in the manner of|aesthetic|filter)\b", re.I)


def is_background_only(clause: str) -> bool:
    """Does `clause` only say what the removed background becomes ("put it on a navy backdrop")?"""
    return bool(_BACKGROUND_ONLY.search(clause)) and not _GRAYSCALE.search(clause)


@dataclass
class Step:
    text: str  # the words of this step ("upscale it 2x")
    intent: Intent

    @property
    def label(self) -> str:
        params = self.intent.params or {}
        if self.intent.name == IMAGE_EDIT and params.get("operation") in EDIT_LABELS:
            return EDIT_LABELS[params["operation"]]
        label = STEP_LABELS.get(self.intent.name, HUMAN_NAMES.get(self.intent.name, self.intent.name))
        if self.intent.name == "upscale" and params.get("scale"):
            label += f" {params['scale']}x"
        return label


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)

    @property
    def compound(self) -> bool:
        return len(self.steps) > 1

    @property
    def intents(self) -> list[str]:
        return [s.intent.name for s in self.steps]

    def to_metadata(self, status: str = "pending") -> list[dict]:
        """The plan as the routing card shows it: intent, label, status, message per step."""
        return [{"intent": s.intent.name, "label": s.label, "text": s.text, "status": status, "message": ""}
                for s in self.steps]


def make_plan(text: str, context: ClassifyContext, route) -> Plan:
    """Plan for `text`; `route(text, context) -> Intent` is the router's single-request classifier."""
    clauses = split_clauses(text)
    if len(clauses) <= 1:
        return Plan([_single(text, context, route)])
    steps: list[Step] = []
    for index, clause in enumerate(clauses):
        clause_context = context if not steps else ClassifyContext(n_images=0, has_latest_image=True)
        if steps and steps[-1].intent.name == BACKGROUND_REMOVAL and is_background_only(clause):
            steps[-1] = _joined(steps[-1], clause, route, context if len(steps) == 1 else clause_context)
            _set_background(steps[-1], clause, route)
            continue
        intent = route(clause, clause_context)
        if steps and _not_a_step_of_its_own(intent, clause, steps[-1]):
            steps[-1] = _joined(steps[-1], clause, route, context if len(steps) == 1 else clause_context,
                                keep=steps[-1].intent.name)
            continue
        if not steps and intent.name == CHAT and not intent.ambiguous:
            continue  # "hi! remove the background, then upscale it"
        steps.append(Step(clause, intent))
    steps = [s for s in steps if s.intent.name != CHAT] or steps
    if len(steps) <= 1:
        whole = _single(text, context, route)
        stated = steps[0].intent.params.get("background") if steps else None
        if stated and whole.intent.name == BACKGROUND_REMOVAL:  # "cut out the cat and put it on black"
            whole.intent.params["background"] = stated
        return Plan([whole])
    return Plan(steps)


def _single(text: str, context: ClassifyContext, route) -> Step:
    """One request, routed whole; after a remark ("the image is blurry, can you make it sharper?") the edit or the
    upscale factor is read from the words that ask for it, not from the remark."""
    step = Step(text, route(text, context))
    if step.intent.name not in (IMAGE_EDIT, UPSCALE):
        return step
    part = request_part(text)
    if part:
        asked = route(part, context, forced_intent=step.intent.name).params
        if asked.get("operation") or asked.get("scale"):
            step.intent.params = asked
    return step


def _not_a_step_of_its_own(intent: Intent, clause: str, previous: Step) -> bool:
    """A chat filler, the same run again, or a doubtful fragment ("…, watercolor") belongs to the step before."""
    if intent.name == CHAT:
        return True
    if intent.name == previous.intent.name:
        return intent.name != IMAGE_EDIT
    if previous.intent.name == IMAGE_GENERATION and intent.name == IMAGE_EDIT and not intent.params.get("operation"):
        return True  # "draw a logo and make it minimalist": no edit named, it describes the new picture
    if intent.name == STYLE_TRANSFER and not any(intent.params.get(k) for k in ("style", "style_key", "style_name")) \
            and not _STYLE_NAMED.search(clause):
        return True  # "…, make it look natural": no style named, a wish about the step before
    return intent.ambiguous and not _ORDER.search(clause)


_PLAIN_COLOUR = re.compile(r"^(?:(?:please|pls|and|also|then)\s+)*(?:(?:make|leave|keep|turn)\s+it|(?:replace|fill|swap)\s+"
                           r"(?:it|them|the (?:background|bg|backdrop))\s+(?:with|for))\s+(?:an?\s+)?(?:solid\s+|plain\s+|"
                           r"pure\s+)?(?P<c>[a-z]+(?:\s+[a-z]+)?)\s*$", re.I)


def _set_background(step: Step, clause: str, route) -> None:
    """The colour the joined clause gives the background wins over what the longer text suggested ("cut out"
    reads as transparent): "put it on black" is a black background, "…and make it white" a white one."""
    stated = route(clause, ClassifyContext(n_images=1), forced_intent=BACKGROUND_REMOVAL).params.get("background")
    plain = _PLAIN_COLOUR.match(clause)
    if not stated and plain:
        stated = route(f"on a {plain.group('c')} background", ClassifyContext(n_images=1),
                       forced_intent=BACKGROUND_REMOVAL).params.get("background")
    if stated:
        step.intent.params["background"] = stated


def _joined(step: Step, clause: str, route, context: ClassifyContext, keep: str | None = None) -> Step:
    """The step with `clause` glued on, its intent kept and its parameters read again from the longer text."""
    text = f"{step.text}, {clause}"
    name = keep or step.intent.name
    again = route(text, context, forced_intent=name)
    intent = Intent(name=name, confidence=step.intent.confidence, params=again.params,
                    candidates=step.intent.candidates, source=step.intent.source, ambiguous=step.intent.ambiguous)
    return Step(text, intent)
