"""Exact rules: phrasings whose intent is not in doubt, decided in microseconds without the embedding model.

A rule is a regular expression plus a condition on the context (most editing rules need an image to edit).
`decide(text, context)` answers only when the rules that fire agree on one intent and no veto applies
(a help question such as "how does face swap work?" is about the feature, not a request to run it; a message
that opens with "generate/draw/create a …" describes a new picture). Everything else goes to the learned model.
The router measures each rule's precision on its training phrases and reports it as the rule's confidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from core.vocabulary import BACKGROUND_REMOVAL, CHAT, FACE_SWAP, IMAGE_EDIT, IMAGE_GENERATION, UPSCALE
from pipeline.understand.wordlists import BACKGROUND_OBJECTS, normalise


def _any_image(ctx) -> bool:
    return ctx.n_images > 0 or ctx.has_latest_image


def _no_image(ctx) -> bool:
    return ctx.n_images == 0 and not ctx.has_latest_image


def _always(ctx) -> bool:
    return True


@dataclass(frozen=True)
class Rule:
    name: str
    intent: str
    pattern: re.Pattern
    when: Callable = _always

    def fires(self, lowered: str, context) -> bool:
        return self.when(context) and self.pattern.search(lowered) is not None


_POLITE = (r"^(?:(?:please|pls|plz|ok|okay|now|then|and|also|next|cool|great|can you|could you|would you|can u|"
           r"could u)[\s,!]+)*")
_SOCIAL = (r"(?:hi|hello|hey|heya|hiya|yo|sup|howdy|greetings|good (?:morning|afternoon|evening|night|day)|thanks|"
           r"thank you|thank u|thx|ty|cheers|bye|goodbye|see (?:you|ya)(?: later)?|ok|okay|cool|nice|great|perfect|"
           r"awesome|wow|lol|haha)")
_BG = r"(?:background|backdrop|bg)"
# What follows an edit verb in a command ("rotate it", "crop to 1:1", "flip horizontally"), not in a description
# ("crop circle", "crop out the background").
_EDIT_OBJECT = (r"(?=\s*(?:$|[.!,]|(?:it|this|that|the|to|by|\d|left|right|horizontal\w*|vertical\w*|clockwise|"
                r"counter\w*|anti\w*|upside|image|photo|picture|pic|slightly|a bit|a little|please|pls)\b)"
                r"(?!.*\b(?:background|bg)\b))")

RULES: tuple[Rule, ...] = (
    Rule("empty", CHAT, re.compile(r"^[\s\W]*$")),
    Rule("social", CHAT, re.compile(
        rf"^(?:{_SOCIAL}(?: (?:there|all|everyone|so much|a lot|very much|again|guys|bot|mate))?[\s!.,:)]*)+$")),
    Rule("help", CHAT, re.compile(
        r"^(?:help|help me|help please|what can you do|what do you do|what are your (?:capabilities|features)|"
        r"how does this work|how do i use this|what can i ask(?: you)?)[\s?!.]*$")),
    # Questions that ask for information ("how does…?", "which models…?"); "is it possible to draw…?" and
    # "are you able to…?" are polite requests, so those openers are left to the model.
    Rule("app_question", CHAT, re.compile(
        r"^(?:how (?:do|does|can|should|long|much|many|big)|what (?:is|are|does|do|kind|sort|types?|formats?|sizes?|"
        r"styles?|models?|resolutions?)|which|who|why|where|when)\b"
        r"(?![^?]*\b(?:pictures?|images?|photos?|pics?|drawings?|paintings?|renders?|illustrations?) of\b)"
        r"[^?]*\?\s*$"), when=_no_image),
    # Text the app cannot write: a chat reply says what it can do instead ("compose a limerick about cats").
    Rule("writing", CHAT, re.compile(
        _POLITE + r"(?:write|compose|draft|pen|recite|tell|translate|summari[sz]e|proofread|rephrase|explain)\b"
        r"(?:\s+(?:me|us|up))?(?:\s+(?:a|an|the|some|my|this|one|two|three|\d+))?(?:\s+\w+){0,3}?\s*"
        r"(?:poems?|haikus?|limericks?|sonnets?|verses?|stor(?:y|ies)|essays?|e-?mails?|letters?|jokes?|songs?|"
        r"lyrics|raps?|tweets?|posts?|captions?|slogans?|summar(?:y|ies)|paragraphs?|articles?|speech|riddles?|"
        r"recipes?|code|scripts?|sentences?|texts?|words?|hello|into (?:english|french|spanish|german|italian|"
        r"portuguese|japanese|chinese))\b(?!.*\b(?:images?|pictures?|photos?|illustrations?|drawings?|paintings?|"
        r"posters?|logos?)\b)")),
    Rule("face_swap", FACE_SWAP, re.compile(
        r"\b(?:face[\s-]?sw[ao]p\w*|sw[ao]p(?:ping)? (?:the |our |my |their |his |her |these |those |two )?faces?|"
        r"switch (?:the |our |their )?faces|face[\s-]?replace\w*|head[\s-]?swap\w*)\b"), when=_any_image),
    Rule("upscale", UPSCALE, re.compile(
        r"(?<!\ban )(?<!\ba )\b(?:up[\s-]?scal\w*|upsacle|up[\s-]?res\w*|super[\s-]?res\w*|increase (?:the )?resolution|"
        r"(?:higher|high|hi)[\s-]?res(?:olution)?|enlarge\w*)\b"), when=_any_image),
    Rule("background", BACKGROUND_REMOVAL, re.compile(
        rf"(?:\b(?:remove|delete|erase|drop|lose|strip|kill|clear|get rid of|take (?:away|out|off)|cut out|crop out|"
        rf"knock out|mask out|blank out)\s+(?:the |its |this |that |my |his |her |their )?{_BG}\b"
        rf"(?!\s+(?:{'|'.join(BACKGROUND_OBJECTS)})\b)"
        rf"|\b{_BG} (?:removal|remover)\b|\bno {_BG}\s*$|\bmake (?:the )?{_BG} transparent\b)"), when=_any_image),
    Rule("edit_command", IMAGE_EDIT, re.compile(
        _POLITE + r"(?:rotate|flip|mirror|crop|resize|brighten|darken|desaturate|grayscale|greyscale)\b" + _EDIT_OBJECT +
        r"|" + _POLITE + r"(?:make|turn|convert) (?:it|this|that|the (?:image|photo|picture|last one))(?: to| into)? "
        r"(?:black and white|b&w|gr[ae]y ?scale|monochrome|brighter|darker|smaller)\s*(?:please|pls)?[.!]*$"),
        when=_any_image),
    Rule("generate_new", IMAGE_GENERATION, re.compile(
        _POLITE + r"(?:generate|create|draw|paint|render|imagine|design|illustrate|depict|visuali[sz]e|produce)\s+"
        r"(?:me\s+)?(?:a|an|some|one|two|three|four|five|six|several|a few|a couple of|\d+)\b"
        r"(?!.*\b(?:it|this|that|these|those|me|my|the (?:last|previous|generated|same|original|above))\b)"),
        when=lambda ctx: ctx.n_images == 0),
    Rule("regenerate", IMAGE_GENERATION, re.compile(r"^(?:please )?(?:regenerate|re-?roll|re-?generate)\b"),
         when=lambda ctx: ctx.has_latest_image),
)

# A question about how something works is answered, not run (checked before the capability rules).
_HELP_QUESTION = re.compile(
    r"^(?:how (?:do|does|can|should|would|long|much|many)|what(?:'s| is| are| does| do)|why|which|who|where|when|"
    r"is (?:it|this|there|that)|can i|do you|does it|are you able)\b|^is\b.*\b(?:legal|allowed|possible|free|safe)\b"
    r"|^can (?:you|u) \w+(?: \w+)? (?:images|photos|pictures|backgrounds|faces|styles|pics)\?")


def firing(text: str, context) -> list[Rule]:
    lowered = normalise(text)
    fired = [rule for rule in RULES if rule.fires(lowered, context)]
    if _HELP_QUESTION.search(lowered) and context.n_images == 0:
        fired = [rule for rule in fired if rule.intent == CHAT]
    return fired


def decide(text: str, context) -> Rule | None:
    """The rule that settles this message, or None when no rule fires or the rules disagree."""
    fired = firing(text, context)
    intents = {rule.intent for rule in fired}
    return fired[0] if len(intents) == 1 else None
