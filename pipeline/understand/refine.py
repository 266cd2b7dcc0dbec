"""Step 2 of the message flow: turn what the user typed into what the capability needs.

For image generation `Refiner.refine(text, intent)` strips the command words ("can you create an image of")
and the parameter phrases ("4 images of", "1024x768", "seed 42", "no people") and keeps the subject; picks a
style preset from the words of the message (30 presets, rows of the `prompt_templates` table when a store is
given, whose usage count it increments); wraps the subject in the preset's template, which adds the medium and
quality terms that suit it (general quality terms when no style is named); builds the negative prompt from
"without X / no X / not X / avoid X" plus the preset's; and keeps the prompt within CLIP's 77 tokens (style
terms go first, then the end of the description, with a note). For every intent it clamps the parameters to
what the capability accepts and says what it changed. Deterministic: same input, same output. Prompt
expansion is this project's own (Fooocus's GPT-2 expansion is CC-BY-NC outside Fooocus).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field

from core.errors import InvalidInput, NotFound
from pipeline.understand.limits import clamp_params
from pipeline.understand.params import NEGATIVE_PHRASE, extract_negative
from pipeline.understand.presets import DEFAULT_NEGATIVE, DEFAULT_QUALITY, PRESETS

log = logging.getLogger(__name__)

CLIP_TOKENS = 75  # 77 minus the start and end tokens
MAX_PROMPT_CHARS = 4000

_SYMBOLS = {"×": "x", "’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"}
_IMAGE_WORDS = (r"(?:images?|pictures?|pics?|photos?|photographs?|illustrations?|drawings?|paintings?|renderings?|"
                r"renders?|artworks?|art|wallpapers?|versions?|variations?|options?|shots?|portraits? photo)")
_COMMAND = re.compile(
    r"^(?:(?:hey|hi|ok|okay|so|now|next|then|cool|great|nice|please|pls|plz|kindly|yo|and|also)[,!.]?\s+)*"
    r"(?:(?:can|could|would|will) (?:you|u)(?: please| pls)?\s+|i(?:'d| would) (?:like|love)(?: you)?(?: to)?\s+|"
    r"i (?:want|need)(?: you to)?\s+|i'm looking for\s+|let'?s\s+|help me\s+|please\s+)?"
    r"(?:(?:generate|generte|gen|create|creat|make|draw|paint|render|imagine|design|illustrate|depict|visuali[sz]e|"
    r"produce|show|give|get|craft|build|sketch(?: out)?|come up with|do)(?: me| us| for me)?\s+)?"
    r"(?:(?:(?:a|an|some|the)\s+)?(?:(?:\d+|one|two|three|four|five|six|seven|eight|a couple of|a few|several)\s+)?"
    r"(?:(?:new|quick|nice|cool|beautiful|different|single)\s+)?"
    rf"{_IMAGE_WORDS}\s+(?:of|showing|with|depicting|featuring|that shows)\s+)?", re.I)
_PARAMETER_PHRASES = (
    re.compile(r"[,;]?\s*\b(?:(?:use|using|with|at|in|and)\s+)?(?:a\s+)?(?:the\s+)?seed\s*(?:[:=#]|number|of|is)?"
               r"\s*#?\d+\b", re.I),
    re.compile(r"[,;]?\s*\b(?:(?:use|using|with|at|in|and)\s+)?\d+\s*(?:sampling |inference |denoising )?steps\b", re.I),
    re.compile(r"[,;]?\s*\bsteps?\s*(?:[:=]|of)?\s*\d+\b", re.I),
    re.compile(r"[,;]?\s*\b(?:(?:at|in|with|size|sized)\s+)?\d{2,5}\s*(?:x|\*|by)\s*\d{2,5}(?:\s*(?:px|pixels))?\b", re.I),
    re.compile(r"[,;]?\s*\b(?:width|height)\s*(?:[:=]|of)?\s*\d{2,5}\b", re.I),
    re.compile(r"[,;]?\s*\b(?:(?:in|at|with)\s+)?(?:(?:wide|tall|vertical|horizontal|landscape|portrait)\s+)?"
               r"(?:aspect(?: ratio)?\s*)?\d{1,2}\s*:\s*\d{1,2}(?:\s*aspect(?: ratio)?)?\b", re.I),
    re.compile(r"[,;]?\s*\b(?:\d+|two|three|four|five|six|seven|eight|a couple of|a few|several)\s+"
               rf"(?:more\s+|different\s+)?{_IMAGE_WORDS}\b(?:\s+of\b)?", re.I),
)
_REGENERATE = re.compile(r"\b(?:again|another|regenerate|re-?roll|redo|retry|variations?|variants?|same|more like|"
                         r"one more|similar|different (?:seed|version)|alternatives?)\b", re.I)
# Words that refer back or ask for more without describing anything new ("do it again", "another one").
_REFERENCE_ONLY = re.compile(rf"\b(?:it|this|that|these|those|them|again|one|ones|another|the|a|an|some|last|previous|"
                             rf"same|similar|different|new|more|like|of|to|please|pls|something|{_IMAGE_WORDS})\b", re.I)
_STYLE_NOUNS = (r"(?:style|styled|illustration|painting|art|artwork|drawing|render|rendering|photo|photograph|image|"
                r"picture|print|sketch|shot|look)")


@dataclass
class Refinement:
    prompt: str
    negative: str
    style: str | None
    params: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Refiner:
    def __init__(self, store=None, settings=None):
        self.store = store
        self.max_chars = int(getattr(settings, "max_prompt_chars", MAX_PROMPT_CHARS) or MAX_PROMPT_CHARS)

    def presets(self) -> list[dict]:
        """Active presets: the store's prompt_templates rows, or the built-in list without a store."""
        if self.store is None:
            return [dict(p) for p in PRESETS]
        return [t for t in self.store.list_templates(active_only=True) if t.get("category", "style") == "style"]

    def refine(self, text: str, intent) -> Refinement:
        name = getattr(intent, "name", intent)
        text = _tidy(text if isinstance(text, str) else "")
        if len(text) > self.max_chars:
            raise InvalidInput(f"Your message is {len(text):,} characters long; the limit is {self.max_chars:,}.",
                               suggestions=["Shorten the description and send it again."])
        params, notes = clamp_params(name, dict(getattr(intent, "params", {}) or {}))
        if name == "image_generation":
            return self._generation(text, params, notes)
        if name == "style_transfer":
            negative = params.get("negative") or extract_negative(text)
            style = params.get("style")
            return Refinement(prompt=style or "", negative=", ".join(negative), style=style, params=params,
                              notes=notes)
        return Refinement(prompt="", negative="", style=None, params=params, notes=notes)

    # ---- generation ----------------------------------------------------------------------------------
    def _generation(self, text: str, params: dict, notes: list[str]) -> Refinement:
        preset, tag = self.choose_preset(text, params.get("style"))
        subject = subject_of(text, tag)
        if not _REFERENCE_ONLY.sub("", subject).strip(" ,.!?"):
            if params.get("mode") or (subject and _REGENERATE.search(text)):
                return Refinement(prompt="", negative="", style=None, params=params, notes=notes)
            raise InvalidInput("Tell me what to draw — for example “a lighthouse at sunset, watercolor”.",
                               suggestions=["A lighthouse at sunset, watercolor", "A cat astronaut, digital art"])
        template = preset["template"] if preset else "{prompt}, " + DEFAULT_QUALITY
        tail = template.partition("{prompt}")[2]
        if tag and re.search(rf"(?<![\w-]){re.escape(tag)}(?![\w-])", subject, re.I):
            template = "{prompt}" + tail  # "a cyberpunk street": no second "cyberpunk" in front
        prompt, clip_notes = fit_clip(template, subject)
        negatives = list(params.get("negative") or extract_negative(text))
        negative = _merge_negative(negatives, preset["negative"] if preset else DEFAULT_NEGATIVE)
        if preset:
            params["style_preset"] = preset["name"]
            if self.store is not None:
                try:
                    self.store.increment_template_usage(preset["name"])
                except NotFound:
                    log.warning("prompt template %r vanished before its use was counted", preset["name"])
        return Refinement(prompt=prompt, negative=negative, style=preset["name"] if preset else None,
                          params=params, notes=notes + clip_notes)

    def choose_preset(self, text: str, style_hint: str | None = None) -> tuple[dict | None, str | None]:
        """The preset whose tag (or name) appears in the message — the longest such tag wins, then the earliest."""
        lowered = _tidy(text).lower()
        best, best_key = (None, None), None
        for preset in self.presets():
            for tag in {preset["name"].lower(), *(t.lower() for t in preset.get("tags") or ())}:
                for haystack, bonus in ((lowered, 0), ((style_hint or "").lower(), -1)):
                    match = re.search(rf"(?<![\w-]){re.escape(tag)}(?![\w-])", haystack)
                    if match:
                        key = (len(tag), bonus, -match.start(), preset["name"])
                        if best_key is None or key > best_key:
                            best, best_key = (preset, tag), key
        return best


def subject_of(text: str, style_tag: str | None = None) -> str:
    """The description without command words, parameter phrases, negatives and the style phrase."""
    subject = _tidy(text)
    for match in reversed(list(re.compile(NEGATIVE_PHRASE.pattern, re.I).finditer(subject))):
        if extract_negative(match.group(0)):
            subject = subject[:match.start()] + subject[match.end():]
    for pattern in _PARAMETER_PHRASES:
        subject = pattern.sub("", subject)
    if style_tag:
        tag = re.escape(style_tag)
        subject = re.sub(rf"[,;]?\s*\b(?:in|with) (?:the |a )?style of (?:an? |the )?{tag}(?:[\s-]{_STYLE_NOUNS})?\b", "",
                         subject, flags=re.I)
        subject = re.sub(rf"[,;]?\s*\bin (?:an? |the )?{tag}(?:[\s-]{_STYLE_NOUNS})?\b", "", subject, flags=re.I)
        subject = re.sub(rf"\b(?:an? )?{tag}(?:[\s-]{_STYLE_NOUNS})? (?:of|showing|depicting)\s+", "", subject, flags=re.I)
        subject = re.sub(rf"[,;]\s*{tag}(?:[\s-]{_STYLE_NOUNS})?\s*(?=[,;.]|$)", "", subject, flags=re.I)
        subject = re.sub(rf"\b{tag}[\s-]style\b", "", subject, flags=re.I)
    subject = re.sub(r"\b(?:use|with|please|pls|thanks|thank you)\s*[.!?]*\s*$", "", subject, flags=re.I)
    subject = _COMMAND.sub("", subject.strip(" ,;.!?"), count=1)
    subject = re.sub(r"\s*([,;])\s*(?:[,;]\s*)*", r"\1 ", subject)
    subject = re.sub(r"\s+", " ", subject).strip(" ,;.!?")
    return re.sub(r"^(?:of|with|showing)\s+", "", subject, flags=re.I)


def estimate_clip_tokens(text: str) -> int:
    """A cheap upper estimate of CLIP BPE tokens: words (long ones split), single digits, punctuation runs."""
    count = 0
    for piece in re.findall(r"[^\W\d_]+|\d|[^\w\s]+", text.lower()):
        if piece[0].isalpha():
            count += 1 if len(piece) <= 8 else 1 + math.ceil((len(piece) - 8) / 6)
        else:
            count += 1
    return count


def fit_clip(template: str, subject: str, limit: int = CLIP_TOKENS) -> tuple[str, list[str]]:
    """Fill the template, then drop trailing style terms and, if still needed, cut the description to fit."""
    prompt = template.replace("{prompt}", subject)
    if estimate_clip_tokens(prompt) <= limit:
        return prompt, []
    head, _, tail = template.partition("{prompt}")
    extras = [t for t in tail.split(",") if t.strip()]
    while extras and estimate_clip_tokens(head + subject + ",".join(extras)) > limit:
        extras.pop()
    if estimate_clip_tokens(head + subject + ",".join(extras)) <= limit:
        return (head + subject + (", " + ", ".join(e.strip() for e in extras) if extras else "")), []
    budget = limit - estimate_clip_tokens(head)
    words, kept = subject.split(), []
    for word in words:
        if estimate_clip_tokens(" ".join(kept + [word])) > budget:
            break
        kept.append(word)
    short = " ".join(kept).rstrip(",;")
    rest = " ".join(words[len(kept):])
    note = (f"The description is about {estimate_clip_tokens(subject)} tokens, more than the 77 the image model reads: "
            f"it kept the first {len(kept)} words (up to “…{' '.join(kept[-5:])}”) and left out "
            f"“{rest[:60]}{'…' if len(rest) > 60 else ''}”.")
    return head + short, [note]


def _merge_negative(user: list[str], preset_negative: str) -> str:
    terms, seen = [], set()
    for term in [*user, *(t.strip() for t in preset_negative.split(","))]:
        if term and term.lower() not in seen:
            seen.add(term.lower())
            terms.append(term)
    return ", ".join(terms)


def _tidy(text: str) -> str:
    for symbol, replacement in _SYMBOLS.items():
        text = text.replace(symbol, replacement)
    return re.sub(r"\s+", " ", text or "").strip()
