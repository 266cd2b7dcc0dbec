"""What an erase request names: the target ("the watermark", "the person") and where it is ("on the left",
"in the bottom corner", "the leftmost car"). Pure Python (`re` only); exposed as the capability's
`parse_params`, so `target` here wins over the router's generic one and `position` is added.

Positions are normalised to `left`, `right`, `top`, `bottom`, `middle` or a corner such as `top left`.
Phrases that only point at the picture itself ("from the photo", "on this old image") and fillers ("please",
"for me") are dropped; other qualifiers stay in the target ("the logo on his shirt"), because a grounding
model reads them. A target that refers to the painted area ("what I marked") yields no target at all.
"""

from __future__ import annotations

import re

_VERBS = ("get rid of", "take out", "take away", "clean up", "wipe out", "edit out", "paint out", "rub out",
          "cut out", "erase", "remove", "delete", "eliminate", "clear", "clean", "wipe", "inpaint", "hide", "lose")
_VERB_RE = re.compile(r"\b(?:" + "|".join(re.escape(v) for v in _VERBS) + r")\b\s*")
_DETERMINERS = re.compile(r"^(?:(?:all|both|every|each)\s+(?:of\s+)?)?(?:the|a|an|this|that|these|those|his|her|"
                          r"their|its|my|our|your|some|any)?\s*")
_POS_WORD = r"(?:top|bottom|upper|lower)(?:[\s-]+(?:left|right))?|left|right|middle|center|centre"
_POSITION_PHRASE = re.compile(
    r"\s*\b(?:on|at|in|to|near|towards?|from|along|over)\s+(?:the\s+)?(?:very\s+|far\s+)?(?P<pos>" + _POS_WORD + r")"
    r"(?:[\s-]*hand)?(?:\s+(?:corner|side|edge|half|part|area|bit|of the (?:image|photo|picture|frame)))?\b")
_POSITION_ADJECTIVE = re.compile(
    r"^(?P<pos>(?:top|bottom|upper|lower)[\s-]+(?:left|right)(?:most)?|leftmost|rightmost|topmost|bottommost|left|right|"
    r"middle|central|centre|center)(?:[\s-]*hand)?\s+(?=[a-z])")  # lone top/bottom: "top hat"
_PICTURE_REFERENCE = re.compile(
    r"\s+\b(?:from|in|on|of|off|out of)\s+(?:the\s+|this\s+|that\s+|my\s+|our\s+|your\s+|his\s+|her\s+)?(?:\w+\s+)?"
    r"(?:photo|photograph|image|picture|pic|shot|selfie|scan|screenshot|frame|one)s?\b.*$")
_FILLER = re.compile(r"\s*\b(?:please|for me|if you can|if possible|thanks?|thank you|now|too|as well|quickly|"
                     r"completely|entirely)\b\s*$")
_CONTINUATION = re.compile(r"\s+(?:and|then|so that|so|but|,)\s+.*$")
_PAINTED = re.compile(r"\b(?:painted|marked|highlighted|selected|brushed|masked|selection|mask|circled|scribbled)\b")
_PRONOUNS = {"it", "them", "this", "that", "these", "those", "something", "stuff", "things", "thing", "object",
             "objects", "one", "him", "her"}
_CANONICAL = {"upper": "top", "lower": "bottom", "center": "middle", "centre": "middle", "central": "middle",
              "leftmost": "left", "rightmost": "right", "topmost": "top", "bottommost": "bottom"}


def normalise_position(raw: str) -> str:
    """'upper left-hand' → 'top left', 'centre' → 'middle', 'rightmost' → 'right'."""
    words = []
    for word in re.split(r"[\s-]+", raw.strip().lower()):
        word = _CANONICAL.get(word, word.removesuffix("most"))
        if word in ("left", "right", "top", "bottom", "middle"):
            words.append(_CANONICAL.get(word, word))
    return " ".join(words)


def parse_removal_params(text: str) -> dict:
    """{'target': str, 'position': str} with only what the text states."""
    lowered = re.sub(r"\s+", " ", (text or "").lower()).strip().rstrip("?!. ")
    params: dict = {}
    verb = _VERB_RE.search(lowered)
    if verb is None:
        return params
    rest = lowered[verb.end():]
    position = _POSITION_PHRASE.search(rest)
    if position:
        params["position"] = normalise_position(position.group("pos"))
        rest = rest[:position.start()] + rest[position.end():]
    rest = _DETERMINERS.sub("", rest.strip(), count=1)
    adjective = _POSITION_ADJECTIVE.match(rest)
    if adjective:
        params.setdefault("position", normalise_position(adjective.group("pos")))
        rest = rest[adjective.end():]
    rest = _PICTURE_REFERENCE.sub("", rest)
    rest = _CONTINUATION.sub("", rest)
    for _ in range(3):
        rest = _FILLER.sub("", rest).strip(" ,.;:!?")
    if rest and not _PAINTED.search(rest) and rest not in _PRONOUNS:
        params["target"] = " ".join(rest.split()[:8])
    return params
