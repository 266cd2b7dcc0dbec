"""The values the store takes and returns: `NewImage` in, `SessionRow`, `MessageRow`, `ImageRow` out.

Rows are plain frozen dataclasses built from `sqlite3.Row`s, with the JSON columns already decoded, so callers
never see SQL or JSON strings. JSON is written with `ensure_ascii=False` (prompts in any script stay readable in
the database) and must be serialisable: a value that is not fails before anything is written. Bad values
from code (empty image bytes, a role that does not exist) raise ValueError/TypeError — bugs to log with a
traceback — while bad values a user or API caller can send raise `core.errors.InvalidInput`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path


def to_json(value, what: str) -> str:
    # A value that JSON cannot hold is a bug in the caller, not a user error: TypeError, logged with a traceback.
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"The {what} cannot be stored as JSON: {exc}") from exc


@dataclass(frozen=True)
class NewImage:
    """Image bytes to store (already encoded) plus what is known about them."""

    data: bytes
    width: int
    height: int
    mime: str = "image/png"
    parent_ids: list[str] = field(default_factory=list)
    recipe: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.data, (bytes, bytearray, memoryview)) or len(self.data) == 0:
            raise ValueError("An image to store must be non-empty bytes.")
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"An image to store needs a positive integer {name}, not {value!r}.")
        object.__setattr__(self, "data", bytes(self.data))
        object.__setattr__(self, "parent_ids", [str(p) for p in self.parent_ids])
        object.__setattr__(self, "recipe", dict(self.recipe))

    @cached_property
    def id(self) -> str:
        """sha256 of the bytes: the image's id and its file name."""
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class ImageRow:
    id: str
    path: Path  # absolute
    width: int
    height: int
    mime: str
    created_at: float
    parent_ids: list
    recipe: dict


@dataclass(frozen=True)
class MessageRow:
    id: int
    session_id: str
    role: str
    content: str
    created_at: float
    metadata: dict
    images: list[ImageRow]


@dataclass(frozen=True)
class SessionRow:
    id: str
    owner: str
    title: str
    created_at: float
    updated_at: float
    metadata: dict
    message_count: int


def image_from_row(row: sqlite3.Row, images_dir: Path) -> ImageRow:
    return ImageRow(id=row["id"], path=images_dir / row["path"], width=row["width"], height=row["height"],
                    mime=row["mime"], created_at=row["created_at"], parent_ids=json.loads(row["parent_ids"]),
                    recipe=json.loads(row["recipe"]))


def message_from_row(row: sqlite3.Row, images: list[ImageRow]) -> MessageRow:
    return MessageRow(id=row["id"], session_id=row["session_id"], role=row["role"], content=row["content"],
                      created_at=row["created_at"], metadata=json.loads(row["metadata"]), images=images)


def session_from_row(row: sqlite3.Row) -> SessionRow:
    return SessionRow(id=row["id"], owner=row["owner"], title=row["title"], created_at=row["created_at"],
                      updated_at=row["updated_at"], metadata=json.loads(row["metadata"]),
                      message_count=row["message_count"])


def template_from_row(row: sqlite3.Row) -> dict:
    template = dict(row)
    template["examples"] = json.loads(template["examples"])
    template["tags"] = json.loads(template["tags"])
    template["is_active"] = bool(template["is_active"])
    return template
