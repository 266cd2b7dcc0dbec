"""Compound requests: split one message into an ordered plan of capability runs, without an LLM.

"draw a lighthouse, then upscale it 2x" is two steps; "a cat and a dog on a sofa" is one. `split_clauses`
cuts the message at strong connectors ("then", "after that", "afterwards", "followed by", ";", a new sentence,
and their Spanish/French/German/Portuguese/Italian/Japanese/Chinese counterparts) and at weak ones ("and", a
comma, "also", "plus") only where a command verb follows and the words before it already form a command ("remove
the watermark and upscale it", not "sharpen and upscale this", "black and white" or "mountains and rivers").
`make_plan` then classifies each clause in the context it will run in (the first one with the message's
attachments, later ones on the previous step's output), and merges what is not a step of its own: a clause too
doubtful to act on, or a chat filler, joins the step before it; two clauses with the same intent are one run
(except basic edits, which the user listed one by one); "…and put it on white" joins a background removal as its
replacement colour. A message that stays one step is routed whole, exactly as a single request. Pure Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.vocabulary import BACKGROUND_REMOVAL, CHAT, HUMAN_NAMES, IMAGE_EDIT
from pipeline.classify import ClassifyContext, Intent

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
               "contrast": "Contrast", "saturation": "Saturation", "grayscale": "Black and white", "blur": "Blur",
               "sharpen": "Sharpen"}

_STRONG = re.compile(
    r"\s*(?:"
    r"[;!]\s*(?:and\s+)?(?:then\s+)?|\.\s+(?=\S)|"
    r",?\s*(?:and\s+|&\s+)?(?:then|after that|afterwards|afterward|after this|after which|following that|"
    r"once (?:that'?s|that is|it'?s|it is) done|when (?:that'?s|it'?s) done|and finally|finally|"
    r"followed by|next|subsequently|lastly)\b,?\s*|"
    # es / pt / it / fr / de: "y luego", "y después", "e depois", "e poi", "puis", "ensuite", "dann", "danach"
    r",?\s*(?:y|e|et|und)?\s*(?:luego|despu[eé]s|depois|em seguida|poi|dopo|quindi|successivamente|puis|ensuite|"
    r"apr[eè]s [cç]a|dann|danach|anschlie[sß]end|au final|y finalmente|e infine)\b,?\s*|"
    # ja / zh: "…てから", "その後", "然后", "之后", "再"
    r"(?:してから|て、|その後|それから|次に|然后|之后|接着|再把|再)"
    r")\s*", re.I)
_WEAK = re.compile(r"\s*(?:,\s*(?:and\s+|also\s+|plus\s+)?|\s(?:and(?: also)?|&|also|plus|as well as)\s+)\s*", re.I)

# Verbs that open a command ("… and upscale it", "…, remove the bg"), after optional polite words.
_POLITE = (r"(?:(?:please|pls|plz|also|then|now|maybe|could you|can you|would you|can u|could u|and|just|lastly|"
           r"first|firstly|first of all|to start|start by|begin by)[\s,]+)*")
_COMMAND_VERBS = (
    "remove", "erase", "delete", "get rid", "take out", "take away", "cut out", "cut", "clean up", "wipe", "lose",
    "ditch", "drop", "strip", "eliminate", "upscale", "up-scale", "upres", "enlarge", "enhance", "sharpen", "blur",
    "rotate", "flip", "mirror", "crop", "resize", "shrink", "brighten", "darken", "lighten", "increase", "decrease",
    "boost", "reduce", "lower", "raise", "bump", "add", "apply", "make", "turn", "convert", "change", "style",
    "stylize", "stylise", "restyle", "give", "put", "place", "set", "swap", "replace", "switch", "generate",
    "create", "draw", "paint", "render", "design", "sketch", "illustrate", "fix", "restore", "colorize", "colourize",
    "saturate", "desaturate", "double", "triple", "quadruple", "scale", "zoom", "transform", "adjust", "straighten",
    "invert", "isolate", "extract", "mask", "transparent", "upsize", "super-resolve", "tone", "warm", "cool",
    "improve", "erase", "blow up", "bring", "give", "redo", "regenerate", "export", "save", "desaturate",
)
_COMMAND_START = re.compile(rf"^{_POLITE}(?:{'|'.join(re.escape(v) for v in sorted(set(_COMMAND_VERBS), key=len, reverse=True))})"
                            r"(?:s|d|ed|ing)?\b", re.I)
# Phrases whose "and" is not a connector.
_PROTECTED = re.compile(r"\b(?:black\s*(?:and|&|n)\s*white|salt and pepper|rock and roll|pen and ink|"
                        r"(?:bigger|larger|sharper|clearer|crisper|brighter|darker|smaller) and (?:bigger|larger|sharper|"
                        r"clearer|crisper|brighter|darker|smaller|better|more \w+)|up and down|left and right|"
                        r"back and forth|width and height|height and width|this and that)\b", re.I)
# "…, lose it": a bare verb + pronoun after a description refers to what was just named, it is no new step.
_PRONOUN_ONLY = re.compile(r"^\S+(?:\s+(?:rid|out|away|off|of|up))*\s+(?:it|them|him|her|this|that|those|these)"
                           r"(?:\s+(?:please|pls|plz|too|as well))?[\s.!]*$", re.I)
# A new picture described without a verb ("a red barn at dusk, and upscale it 2x") may open a plan; a remark
# about the image ("it's only 800px wide, can you…", "there's a bin, lose it") does not.
_DESCRIPTION = re.compile(r"^(?:(?:a|an|some|one|two|three|four|\d+)\s+|(?:photo|picture|image|portrait|painting|"
                          r"illustration|drawing|render|sketch)s?\s+of\b)", re.I)
_BACKGROUND_ONLY = re.compile(
    r"^(?:(?:please|pls|and|also|then)\s+)*(?:(?:put|place|set|drop|paste|stick)\s+(?:it|them|him|her|this|that|the \w+)\s+"
    r"(?:on|onto|against|over|in front of)\b|(?:make|leave|keep)\s+(?:it|the (?:background|bg|backdrop))\s+"
    r"(?:transparent|white|black|plain)\b|(?:on|against)\s+(?:a\s+)?(?:plain\s+|solid\s+|pure\s+)?\w+(?:\s+background)?$|"
    r"(?:with\s+)?(?:a\s+)?(?:transparent|white|black|plain|solid \w+) (?:background|bg|backdrop)\b)", re.I)


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


def _protect(text: str) -> tuple[str, dict[str, str]]:
    """Replace the phrases whose 'and' is no connector by placeholders (restored after splitting)."""
    table: dict[str, str] = {}

    def hide(match: re.Match) -> str:
        key = f"\x00{len(table)}\x00"
        table[key] = match.group(0)
        return key

    return _PROTECTED.sub(hide, text), table


def _restore(text: str, table: dict[str, str]) -> str:
    for key, value in table.items():
        text = text.replace(key, value)
    return text


_BEFORE_THAT = re.compile(r"^(?:but\s+)?(?:first(?:ly)?|before (?:that|this|you do that|doing that|anything else))\b[\s,]*",
                          re.I)


def split_clauses(text: str) -> list[str]:
    """The message cut into the clauses that may be steps of their own (one clause = no split), in the order
    they should run ("upscale it, but first draw a tiger" puts the drawing first)."""
    clauses = _split(text)
    for index in range(1, len(clauses)):
        if _BEFORE_THAT.match(clauses[index]) and not _BEFORE_THAT.match(clauses[0]):
            moved = clauses.pop(index)
            clauses.insert(0, _BEFORE_THAT.sub("", moved) or moved)
            break
    return clauses


# "after you draw a fox, upscale it": the opening clause runs first, the comma is a strong connector.
_AFTER_YOU = re.compile(r"^(?:after|once|when)\s+(?:you(?:'ve| have| are done| finish)?\s+|you'?re done\s+|"
                        r"u\s+)?(?:(?:with\s+)?(?:generating|drawing|making|creating))?(?P<first>[^,;]+?),\s*(?P<then>.+)$",
                        re.I)


def _split(text: str) -> list[str]:
    text = " ".join((text or "").split())
    opening = _AFTER_YOU.match(text)
    if opening and _COMMAND_START.search(opening.group("then")):
        return _split(opening.group("first")) + _split(opening.group("then"))
    hidden, table = _protect(text)
    strong = [p for p in (s.strip(" ,.") for s in _STRONG.split(hidden)) if p]
    clauses: list[str] = []
    for part in strong or [hidden.strip()]:
        start = 0  # where the clause being built begins in `part`
        for match in _WEAK.finditer(part):
            current, piece = part[start:match.start()], part[match.end():]
            if _COMMAND_START.search(piece) and _is_command(current) and (
                    _COMMAND_START.search(current) or (start == 0 and _DESCRIPTION.search(current)
                                                       and not _PRONOUN_ONLY.search(_next_clause(piece)))):
                clauses.append(current)
                start = match.end()
        clauses.append(part[start:])
    return [_restore(c, table).strip(" ,.;") for c in clauses if c.strip(" ,.;")]


def _next_clause(text: str) -> str:
    """The words up to the next weak connector (what `_PRONOUN_ONLY` looks at)."""
    return _WEAK.split(text, maxsplit=1)[0]


def _is_command(words: str) -> bool:
    """A clause that can stand alone as a step: more than a bare verb ("sharpen" in "sharpen and upscale this")."""
    tokens = re.findall(r"[\w'-]+", words)
    if len(tokens) >= 2:
        return True
    return bool(tokens) and not _COMMAND_START.fullmatch(tokens[0])


def make_plan(text: str, context: ClassifyContext, route) -> Plan:
    """Plan for `text`; `route(text, context) -> Intent` is the router's single-request classifier."""
    clauses = split_clauses(text)
    if len(clauses) <= 1:
        return Plan([Step(text, route(text, context))])
    steps: list[Step] = []
    for index, clause in enumerate(clauses):
        clause_context = context if index == 0 else ClassifyContext(n_images=0, has_latest_image=True)
        if steps and steps[-1].intent.name == BACKGROUND_REMOVAL and _BACKGROUND_ONLY.search(clause):
            steps[-1] = _joined(steps[-1], clause, route, context if len(steps) == 1 else clause_context)
            continue
        intent = route(clause, clause_context)
        if steps and (intent.ambiguous or intent.name == CHAT or
                      (intent.name == steps[-1].intent.name and intent.name != IMAGE_EDIT)):
            steps[-1] = _joined(steps[-1], clause, route, context if len(steps) == 1 else clause_context,
                                keep=steps[-1].intent.name)
            continue
        if not steps and intent.name == CHAT and not intent.ambiguous:
            continue  # "hi! remove the background, then upscale it"
        steps.append(Step(clause, intent))
    steps = [s for s in steps if s.intent.name != CHAT] or steps
    if len(steps) <= 1:
        return Plan([Step(text, route(text, context))])
    return Plan(steps)


def _joined(step: Step, clause: str, route, context: ClassifyContext, keep: str | None = None) -> Step:
    """The step with `clause` glued on, its intent kept and its parameters read again from the longer text."""
    text = f"{step.text}, {clause}"
    name = keep or step.intent.name
    again = route(text, context, forced_intent=name)
    intent = Intent(name=name, confidence=step.intent.confidence, params=again.params,
                    candidates=step.intent.candidates, source=step.intent.source, ambiguous=step.intent.ambiguous)
    return Step(text, intent)
