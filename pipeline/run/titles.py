"""A chat's title from its first request: the words that ask for something, plus what the first image is.

"hi! could you please remove the background?" with `cat_on_sofa.jpg` attached is titled "Remove the background ·
cat on sofa", so two chats that start with the same request on different photos read differently in the list.
Greetings, "please" and "could you" are dropped, the first letter is capitalised and long requests are cut at a
word with "…". The image part is the first attachment's file name stem when the client gave one that says
something (not "image", "blob", a temporary or hexadecimal name); without one the title is the words alone, and
without words it is the image's name or "Images". Standard library only.
"""

from __future__ import annotations

import os
import re
from pathlib import PurePath

MAX_WORDS_CHARS = 48
MAX_NAME_CHARS = 28

# A greeting is dropped only when punctuation ends it ("hi! remove…"), not in "hello from nobody".
_OPENING = re.compile(r"^(?:(?:(?:hi|hello|hey|heya|yo|ok|okay|so)(?:\s+there)?\s*[,!.:;-]+|(?:please|pls|plz|can you|"
                      r"could you|would you|can u|could u|will you|i want you to|i'd like you to|i need you to|kindly|"
                      r"just)\b)[\s,!.:;-]*)+", re.I)
_CLOSING = re.compile(r"(?:[\s,]+(?:please|pls|plz|thanks|thank you|thx|for me))+[\s.!?]*$|[\s.!?,;:]+$", re.I)
_QUESTION = re.compile(r"^(?:what|how|why|who|which|where|when|is|are|do|does|can|could|would|will|should)\b", re.I)
_MEANINGLESS_NAME = re.compile(r"^(?:image|img|file|upload|blob|download|unnamed|untitled|clipboard|pasted|photo|"
                               r"picture|tmp\w*|[0-9a-f]{12,}|[0-9a-f-]{32,}|\d+)$", re.I)


def session_title(text: str, images=()) -> str:
    """The title of a chat whose first message is `text` with `images` (paths or upload objects) attached."""
    words = _words(text)
    name = next((n for n in (image_name(image) for image in images or ()) if n), "")
    if words and name:
        return f"{words} · {name}"
    return words or name or "New chat"


def image_name(source) -> str:
    """The readable stem of an attachment's file name ("Cat_on-sofa.JPG" → "Cat on sofa"), or ""."""
    raw = _file_name(source)
    if not raw:
        return ""
    stem = PurePath(raw.replace("\\", "/")).stem
    stem = " ".join(re.sub(r"[_\-.+]+", " ", stem).split())
    if not stem or _MEANINGLESS_NAME.match(stem.replace(" ", "")):
        return ""
    return _cut(stem, MAX_NAME_CHARS)


def _file_name(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, dict):
        return str(source.get("orig_name") or source.get("name") or source.get("path") or "")
    for attribute in ("orig_name", "filename", "name"):  # an upload object, or a PIL image opened from a file
        value = getattr(source, attribute, None)
        if isinstance(value, str) and value:
            return value
    return ""


def _words(text: str) -> str:
    original = " ".join((text or "").split())
    words = original
    for _ in range(2):
        words = _CLOSING.sub("", _OPENING.sub("", words)).strip()
    if not words:  # nothing but a greeting or politeness: the message itself ("Hello")
        words = _CLOSING.sub("", original).strip()
    elif _QUESTION.match(words) and original.rstrip().endswith("?"):
        words += "?"  # a question stays one ("What can you do?")
    if not words:
        return ""
    return _cut(words[0].upper() + words[1:], MAX_WORDS_CHARS)


def _cut(words: str, limit: int) -> str:
    if len(words) <= limit:
        return words
    cut = words[:limit].rsplit(" ", 1)[0] if " " in words[:limit] else words[:limit]
    return cut.rstrip(" ,;:-") + "…"
