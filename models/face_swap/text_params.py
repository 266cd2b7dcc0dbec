"""What a face-swap message says about which faces and which images: pure text parsing, no heavy imports.

`parse_params(text)` returns only what the text states:
- `face_target`: which faces of the target image to replace — "all", "left", "right", "middle", "largest" or
  "smallest" (absent = the largest face);
- `face_index`: 1-based position when the text counts faces ("the second face", "the 3rd person from the
  right"), counted from the left unless `face_target` is "right";
- `face_gender`: "male" or "female" when the text names a man or a woman ("the man on the left");
- `source_image` / `target_image`: "first", "second" or "latest" when the text says which image holds the
  face to copy ("the face from the second image") or the picture to change ("onto the first one", "the
  image you just made").
The pipeline merges this over the router's generic parameters; chips may send the same keys directly.
"""

from __future__ import annotations

import re

_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
             "fifth": 5, "5th": 5, "sixth": 6, "6th": 6}
_PERSON = r"(?:face|person|man|woman|guy|girl|boy|lady|gentleman|one|kid|child)"
_IMAGE = r"(?:image|photo|picture|pic|one|photograph|shot|selfie|attachment|img)"
_WHICH_IMAGE = (r"(?P<which>first|1st|second|2nd|other|last|previous|latest|earlier|generated|new)"
                r"(?:\s+" + _IMAGE + r")?")
_MADE = re.compile(r"\b(?:image|picture|photo|one)\s+(?:that\s+)?you\s+(?:just\s+)?(?:made|generated|created|did)\b")
_MENTION = re.compile(r"(?P<lead>\b(?:faces?\s+(?:from|of|in)|from|of|on|onto|to|into|over|in))\s+the\s+"
                      + _WHICH_IMAGE + r"\b")
_MALE = re.compile(r"\b(?:man|guy|boy|gentleman|male|gent|dude|husband|father|dad)\b")
_FEMALE = re.compile(r"\b(?:woman|girl|lady|female|wife|mother|mom|mum)\b")


def parse_params(text: str) -> dict:
    lowered = " " + re.sub(r"\s+", " ", (text or "").lower()) + " "
    params: dict = {}
    params.update(_face_target(lowered))
    gender = _gender(lowered)
    if gender:
        params["face_gender"] = gender
    params.update(_images(lowered))
    return params


def _face_target(text: str) -> dict:
    if re.search(r"\b(?:all|every|each)\s+(?:of\s+the\s+)?(?:faces?|people|persons|person)\b"
                 r"|\beveryone\b|\beverybody\b|\ball of them\b|\bboth\s+(?:faces|people|of them)\b", text):
        return {"face_target": "all"}
    found: dict = {}
    ordinal = re.search(r"\b(?P<n>" + "|".join(_ORDINALS) + r")\s+(?:" + _PERSON + r")\b(?!\s+(?:image|photo|picture))",
                        text)
    if ordinal and not re.search(r"\b(?:from|in|of|on|onto)\s+the\s+" + ordinal.group("n") + r"\b", text):
        found["face_index"] = _ORDINALS[ordinal.group("n")]
    if re.search(_side("left"), text):
        found["face_target"] = "left"
    elif re.search(_side("right"), text):
        found["face_target"] = "right"
    elif re.search(r"\b(?:middle|center|centre|central)\b", text):
        found["face_target"] = "middle"
    elif re.search(r"\b(?:smallest|tiniest)\b", text):
        found["face_target"] = "smallest"
    elif re.search(r"\b(?:largest|biggest|main|closest)\b", text):
        found["face_target"] = "largest"
    return found


def _side(side: str) -> str:
    return rf"\b(?:on|to|at|from)\s+the\s+{side}\b|\b{side}[- ]?most\b|\b{side}\s+{_PERSON}\b"


def _gender(text: str) -> str | None:
    male, female = bool(_MALE.search(text)), bool(_FEMALE.search(text))
    if male == female:
        return None
    return "male" if male else "female"


def _which(word: str) -> str:
    if word in ("first", "1st"):
        return "first"
    if word in ("second", "2nd", "other"):
        return "second"
    return "latest"


def _images(text: str) -> dict:
    text = _MADE.sub("latest image", text)
    found: dict = {}
    for mention in _MENTION.finditer(text):
        which = _which(mention.group("which"))
        lead = mention.group("lead")
        before = text[max(0, mention.start() - 24):mention.start()]
        if re.fullmatch(r"faces? in", lead) and re.search(r"\b(?:replace|change|swap)\b", before):
            role = "target_image"  # "replace the face in the second photo with mine"
        elif lead.startswith("face") or lead in ("from", "of"):
            role = "source_image"
        else:
            role = "target_image"
        if role not in found and which not in found.values():
            found[role] = which
    return found
