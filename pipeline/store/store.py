"""`Store`: sessions, messages and their images, owner-checked, in SQLite plus content-addressed files.

Every call that touches a session takes the caller's `owner` and answers `NotFound` — with one message — both
for an unknown id and for somebody else's, so ids cannot be probed. A message and its image links are written
in one transaction together with the session's `updated_at`; image files are written (atomically, by content
hash) before it, and checked again after it under a lock shared with the code that deletes files, so a file
being deleted by `delete_session`/`collect_garbage` while another thread stores the same bytes is rewritten
rather than lost. History is read in a snapshot with two queries (messages, then all their images). Prompt
templates and routing corrections live in `pipeline.store.extras`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from core.errors import InvalidInput, NotFound
from pipeline.store.db import Database
from pipeline.store.extras import CorrectionsAndTemplates
from pipeline.store.files import ImageFiles, is_image_id
from pipeline.store.migrations import migrate
from pipeline.store.rows import (ImageRow, MessageRow, NewImage, SessionRow, image_from_row, message_from_row,
                                 session_from_row, to_json)

ROLES = ("user", "assistant")
SESSION_NOT_FOUND = "This conversation does not exist, or it is not yours."
IMAGE_NOT_FOUND = "This image does not exist, or it is not yours."
_NO_UPPER_BOUND = 2**63 - 1

SESSION_SQL = ("SELECT s.*, (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS message_count "
               "FROM sessions s")
HISTORY_SQL = ("SELECT id, session_id, role, content, created_at, metadata FROM messages "
               "WHERE session_id = ? AND id < ? ORDER BY id DESC LIMIT ?")
HISTORY_IMAGES_SQL = ("SELECT mi.message_id, i.* FROM messages m "
                      "JOIN message_images mi ON mi.message_id = m.id JOIN images i ON i.id = mi.image_id "
                      "WHERE m.session_id = ? AND m.id BETWEEN ? AND ? ORDER BY mi.message_id, mi.position")
LATEST_IMAGE_SQL = ("SELECT i.* FROM messages m "
                    "JOIN message_images mi ON mi.message_id = m.id JOIN images i ON i.id = mi.image_id "
                    "WHERE m.session_id = ? ORDER BY m.id DESC, mi.position DESC LIMIT 1")
SESSION_IMAGES_SQL = """
    SELECT i.* FROM (
        SELECT mi.image_id, m.id AS message_id, mi.position,
               ROW_NUMBER() OVER (PARTITION BY mi.image_id ORDER BY m.id, mi.position) AS occurrence
        FROM messages m JOIN message_images mi ON mi.message_id = m.id
        WHERE m.session_id = ?
    ) AS first_use JOIN images i ON i.id = first_use.image_id
    WHERE first_use.occurrence = 1 ORDER BY first_use.message_id, first_use.position"""
READABLE_IMAGE_SQL = """
    SELECT i.* FROM images i WHERE i.id = ? AND EXISTS (
        SELECT 1 FROM message_images mi JOIN messages m ON m.id = mi.message_id
        JOIN sessions s ON s.id = m.session_id
        WHERE mi.image_id = i.id AND s.owner = ?)"""
UNANSWERED_SQL = """
    SELECT m.*, s.owner FROM messages m JOIN sessions s ON s.id = m.session_id WHERE m.role = 'user' AND NOT EXISTS (
        SELECT 1 FROM messages a WHERE a.session_id = m.session_id AND a.role = 'assistant' AND a.id > m.id
        AND (json_extract(a.metadata, '$.user_message_id') = m.id
             OR a.id = (SELECT MIN(n.id) FROM messages n WHERE n.session_id = m.session_id AND n.id > m.id)))
    ORDER BY m.id LIMIT ?"""
MESSAGE_IMAGES_SQL = ("SELECT i.* FROM message_images mi JOIN images i ON i.id = mi.image_id "
                      "WHERE mi.message_id = ? ORDER BY mi.position")


class Store(CorrectionsAndTemplates):
    def __init__(self, db_path: Path, images_dir: Path):
        self.db_path = Path(db_path)
        self.images_dir = Path(images_dir)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.files = ImageFiles(self.images_dir)
        self._images_root = self.images_dir.resolve()
        self._files_lock = threading.Lock()
        self.db = Database(self.db_path)
        migrate(self.db)

    @classmethod
    def from_settings(cls, settings) -> "Store":
        return cls(settings.db_path, settings.images_dir)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- sessions -------------------------------------------------------------------------------------------

    def create_session(self, owner: str, title: str = "", metadata: dict | None = None) -> SessionRow:
        if not isinstance(owner, str) or not owner.strip():
            raise InvalidInput("A conversation needs an owner.")
        if not isinstance(title, str):
            raise InvalidInput("A conversation title must be text.")
        metadata = dict(metadata or {})
        metadata_json = to_json(metadata, "conversation metadata")
        session_id, now = uuid.uuid4().hex, time.time()
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO sessions (id, owner, title, created_at, updated_at, metadata) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (session_id, owner, title, now, now, metadata_json))
        return SessionRow(session_id, owner, title, now, now, json.loads(metadata_json), 0)

    def get_session(self, session_id: str, owner: str) -> SessionRow:
        row = self.db.connection().execute(f"{SESSION_SQL} WHERE s.id = ? AND s.owner = ?",
                                           (session_id, owner)).fetchone()
        if row is None:
            raise _session_not_found()
        return session_from_row(row)

    def list_sessions(self, owner: str, limit: int = 100) -> list[SessionRow]:
        rows = self.db.connection().execute(
            f"{SESSION_SQL} WHERE s.owner = ? ORDER BY s.updated_at DESC, s.rowid DESC LIMIT ?",
            (owner, _count(limit, "limit"))).fetchall()
        return [session_from_row(row) for row in rows]

    def update_session(self, session_id: str, owner: str, *, title: str | None = None,
                       metadata_updates: dict | None = None) -> SessionRow:
        if title is not None and not isinstance(title, str):
            raise InvalidInput("A conversation title must be text.")
        with self.db.transaction() as conn:
            row = conn.execute("SELECT metadata FROM sessions WHERE id = ? AND owner = ?",
                               (session_id, owner)).fetchone()
            if row is None:
                raise _session_not_found()
            metadata = json.loads(row["metadata"])
            metadata.update(metadata_updates or {})
            conn.execute("UPDATE sessions SET title = COALESCE(?, title), metadata = ?, "
                         "updated_at = MAX(updated_at, ?) WHERE id = ?",
                         (title, to_json(metadata, "conversation metadata"), time.time(), session_id))
            return self.get_session(session_id, owner)

    def delete_session(self, session_id: str, owner: str) -> bool:
        """Delete the session, its messages and links, and the images no other message links to."""
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM sessions WHERE id = ? AND owner = ?", (session_id, owner)).fetchone() is None:
                return False
            candidates = [row[0] for row in conn.execute(
                "SELECT DISTINCT mi.image_id FROM messages m JOIN message_images mi ON mi.message_id = m.id "
                "WHERE m.session_id = ?", (session_id,))]
            # The user's words go with the session: corrections keep only the intent pair for evaluation.
            conn.execute("UPDATE routing_corrections SET text = '', session_id = NULL WHERE session_id = ?", (session_id,))
            conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))  # cascades to messages and links
            unlinked = conn.execute(
                "SELECT id, path FROM images WHERE id IN (SELECT value FROM json_each(?)) AND NOT EXISTS "
                "(SELECT 1 FROM message_images mi WHERE mi.image_id = images.id)", (json.dumps(candidates),)).fetchall()
            conn.executemany("DELETE FROM images WHERE id = ?", [(row["id"],) for row in unlinked])
        self._remove_files_if_unreferenced([(row["id"], row["path"]) for row in unlinked])
        return True

    # --- messages -------------------------------------------------------------------------------------------

    def add_message(self, session_id: str, owner: str, role: str, content: str, *, metadata: dict | None = None,
                    new_images: Iterable[NewImage] = (), image_ids: Iterable[str] = ()) -> MessageRow:
        """Store a message linking `image_ids` (already stored) then `new_images`, in that order, atomically."""
        return self._add_message(session_id, owner, role, content, metadata, new_images, image_ids)[1]

    def start_session(self, owner: str, role: str, content: str, *, title: str = "", metadata: dict | None = None,
                      new_images: Iterable[NewImage] = (), image_ids: Iterable[str] = (),
                      session_metadata: dict | None = None) -> tuple[SessionRow, MessageRow]:
        """Create a session together with its first message, in one transaction: no session is ever empty."""
        if not isinstance(owner, str) or not owner.strip():
            raise InvalidInput("A conversation needs an owner.")
        if not isinstance(title, str):
            raise InvalidInput("A conversation title must be text.")
        new_session = (uuid.uuid4().hex, title, to_json(dict(session_metadata or {}), "conversation metadata"))
        session_id, message = self._add_message(new_session[0], owner, role, content, metadata, new_images, image_ids,
                                                new_session=new_session)
        return self.get_session(session_id, owner), message

    def _add_message(self, session_id, owner, role, content, metadata, new_images, image_ids, new_session=None):
        if role not in ROLES:
            raise ValueError(f"A message role must be one of {', '.join(ROLES)}, not {role!r}.")
        if not isinstance(content, str):
            raise TypeError("A message's content must be text.")
        metadata_json = to_json(dict(metadata or {}), "message metadata")
        image_ids, new_images = list(image_ids), list(new_images)
        if not all(isinstance(image, NewImage) for image in new_images):
            raise TypeError("new_images must hold NewImage values.")
        if not all(is_image_id(image_id) for image_id in image_ids):
            raise NotFound(IMAGE_NOT_FOUND)
        planned = [(image, self.files.relative_path(image.id, image.mime), to_json(image.parent_ids, "parent ids"),
                    to_json(image.recipe, "image recipe")) for image in new_images]
        if new_session is None:
            self._check_owner(self.db.connection(), session_id, owner)  # no files written for a session we'd refuse
        for image, relative, _, _ in planned:
            self.files.write(relative, image.data)
        now = time.time()
        with self.db.transaction() as conn:
            if new_session is None:
                self._check_owner(conn, session_id, owner)
            else:
                conn.execute("INSERT INTO sessions (id, owner, title, created_at, updated_at, metadata) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (new_session[0], owner, new_session[1], now, now, new_session[2]))
            for image_id in image_ids:
                if conn.execute(READABLE_IMAGE_SQL, (image_id, owner)).fetchone() is None:
                    raise NotFound(IMAGE_NOT_FOUND)
            message_id = conn.execute(
                "INSERT INTO messages (session_id, role, content, created_at, metadata) VALUES (?, ?, ?, ?, ?)",
                (session_id, role, content, now, metadata_json)).lastrowid
            for position, image_id in enumerate(image_ids):
                self._link_image(conn, message_id, image_id, position)
            for position, (image, relative, parents_json, recipe_json) in enumerate(planned, start=len(image_ids)):
                self._insert_image(conn, image, relative, parents_json, recipe_json, now)
                self._link_image(conn, message_id, image.id, position)
            conn.execute("UPDATE sessions SET updated_at = MAX(updated_at, ?) WHERE id = ?", (now, session_id))
            message = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
            images = [image_from_row(row, self.images_dir) for row in conn.execute(MESSAGE_IMAGES_SQL, (message_id,))]
        self._ensure_files(new_images, images)
        return session_id, message_from_row(message, images)

    def has_message(self, session_id: str, owner: str, message_id: int, role: str | None = None) -> bool:
        """True when `message_id` is a message (of `role`, if given) of this owner's session."""
        row = self.db.connection().execute(
            "SELECT m.role FROM messages m JOIN sessions s ON s.id = m.session_id "
            "WHERE m.id = ? AND m.session_id = ? AND s.owner = ?", (message_id, session_id, owner)).fetchone()
        return row is not None and (role is None or row["role"] == role)

    def message(self, message_id: int, owner: str) -> MessageRow:
        """One message of this owner's (with its images); NotFound for anybody else's or an unknown id."""
        if isinstance(message_id, bool) or not isinstance(message_id, int) or not 0 < message_id < _NO_UPPER_BOUND:
            raise NotFound("This message does not exist, or it is not yours.")
        with self.db.snapshot() as conn:
            row = conn.execute("SELECT m.* FROM messages m JOIN sessions s ON s.id = m.session_id "
                               "WHERE m.id = ? AND s.owner = ?", (message_id, owner)).fetchone()
            if row is None:
                raise NotFound("This message does not exist, or it is not yours.")
            images = [image_from_row(r, self.images_dir) for r in conn.execute(MESSAGE_IMAGES_SQL, (message_id,))]
        return message_from_row(row, images)

    def delete_empty_sessions(self) -> int:
        """Remove sessions that hold no message (left by versions that created a chat before its first reply)."""
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM sessions WHERE NOT EXISTS "
                                "(SELECT 1 FROM messages m WHERE m.session_id = sessions.id)").rowcount

    def unanswered_messages(self, limit: int = 10_000) -> list[tuple[str, MessageRow]]:
        """(owner, user message) for each message no assistant message answers (a crash mid-request), oldest first.

        A reply names the message it answers in `metadata.user_message_id`; a reply right after a user message
        also counts (rows written before replies named their message)."""
        with self.db.snapshot() as conn:
            rows = conn.execute(UNANSWERED_SQL, (_count(limit, "limit"),)).fetchall()
            images = {row["id"]: [image_from_row(r, self.images_dir)
                                  for r in conn.execute(MESSAGE_IMAGES_SQL, (row["id"],))] for row in rows}
        return [(row["owner"], message_from_row(row, images[row["id"]])) for row in rows]

    @staticmethod
    def _insert_image(conn, image: NewImage, relative: str, parents_json: str, recipe_json: str, now: float) -> None:
        # Same bytes → same id: the first stored row (and its recipe) is kept.
        conn.execute("INSERT OR IGNORE INTO images (id, path, width, height, mime, created_at, parent_ids, recipe) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (image.id, relative, image.width, image.height, image.mime, now, parents_json, recipe_json))

    @staticmethod
    def _link_image(conn, message_id: int, image_id: str, position: int) -> None:
        conn.execute("INSERT INTO message_images (message_id, image_id, position) VALUES (?, ?, ?)",
                     (message_id, image_id, position))

    def history(self, session_id: str, owner: str, limit: int = 200, before_id: int | None = None) -> list[MessageRow]:
        """The last `limit` messages (before `before_id` when given), oldest first, each with its images."""
        limit = _count(limit, "limit")
        upper = _NO_UPPER_BOUND if before_id is None else _count(before_id, "before_id")
        with self.db.snapshot() as conn:
            self._check_owner(conn, session_id, owner)
            rows = conn.execute(HISTORY_SQL, (session_id, upper, limit)).fetchall()
            if not rows:
                return []
            rows.reverse()
            images = defaultdict(list)
            for row in conn.execute(HISTORY_IMAGES_SQL, (session_id, rows[0]["id"], rows[-1]["id"])):
                images[row["message_id"]].append(image_from_row(row, self.images_dir))
        return [message_from_row(row, images[row["id"]]) for row in rows]

    def message_count(self, session_id: str, owner: str) -> int:
        with self.db.snapshot() as conn:
            self._check_owner(conn, session_id, owner)
            return conn.execute("SELECT COUNT(*) FROM messages WHERE session_id = ?", (session_id,)).fetchone()[0]

    # --- images ---------------------------------------------------------------------------------------------

    def latest_image(self, session_id: str, owner: str) -> ImageRow | None:
        """The last image of the most recent message of the session that has images."""
        with self.db.snapshot() as conn:
            self._check_owner(conn, session_id, owner)
            row = conn.execute(LATEST_IMAGE_SQL, (session_id,)).fetchone()
        return None if row is None else image_from_row(row, self.images_dir)

    def images_of_session(self, session_id: str, owner: str) -> list[ImageRow]:
        """Every image of the session once, in order of first appearance (the gallery)."""
        with self.db.snapshot() as conn:
            self._check_owner(conn, session_id, owner)
            rows = conn.execute(SESSION_IMAGES_SQL, (session_id,)).fetchall()
        return [image_from_row(row, self.images_dir) for row in rows]

    def get_image(self, image_id: str, owner: str) -> ImageRow:
        row = self.db.connection().execute(READABLE_IMAGE_SQL, (image_id, owner)).fetchone()
        if row is None:
            raise NotFound(IMAGE_NOT_FOUND)
        return image_from_row(row, self.images_dir)

    def owner_can_read_path(self, owner: str, path) -> bool:
        """True only if `path` is the file of an image linked to one of this owner's messages."""
        try:
            resolved = Path(path).resolve()
            relative = resolved.relative_to(self._images_root).as_posix()
        except (TypeError, ValueError, OSError):
            return False
        image_id = resolved.name.split(".", 1)[0]
        if not is_image_id(image_id):
            return False
        row = self.db.connection().execute(READABLE_IMAGE_SQL, (image_id, owner)).fetchone()
        return row is not None and row["path"] == relative

    def collect_garbage(self, min_age_s: float = 60.0) -> dict:
        """Delete image rows no message links to, and files no image row names (older than `min_age_s`).

        The age limit spares files a concurrent `add_message` has written but not yet committed."""
        with self.db.transaction() as conn:
            orphans = conn.execute("SELECT id FROM images WHERE NOT EXISTS "
                                   "(SELECT 1 FROM message_images mi WHERE mi.image_id = images.id)").fetchall()
            conn.executemany("DELETE FROM images WHERE id = ?", [(row["id"],) for row in orphans])
        cutoff, removed = time.time() - min_age_s, 0
        with self._files_lock:
            known = {row[0] for row in self.db.connection().execute("SELECT path FROM images")}
            for _, path in self.files.walk():
                try:
                    if path.relative_to(self.images_dir).as_posix() in known or path.stat().st_mtime > cutoff:
                        continue
                    path.unlink()
                    removed += 1
                except FileNotFoundError:
                    pass
        return {"image_rows": len(orphans), "files": removed}

    # --- helpers --------------------------------------------------------------------------------------------

    @staticmethod
    def _check_owner(conn, session_id: str, owner: str) -> None:
        if conn.execute("SELECT 1 FROM sessions WHERE id = ? AND owner = ?", (session_id, owner)).fetchone() is None:
            raise _session_not_found()

    def _ensure_files(self, new_images: list[NewImage], stored: list[ImageRow]) -> None:
        # A concurrent delete may have removed the file of these bytes between our write and our commit.
        data = {image.id: image.data for image in new_images}
        with self._files_lock:
            for row in stored:
                if row.id in data:
                    self.files.write(row.path.relative_to(self.images_dir).as_posix(), data[row.id])

    def _remove_files_if_unreferenced(self, files: list[tuple[str, str]]) -> None:
        """Remove (image id, relative path) files unless the same bytes were stored again meanwhile."""
        if not files:
            return
        with self._files_lock:
            conn = self.db.connection()
            for image_id, relative in files:
                if conn.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone() is None:
                    self.files.remove(relative)


def _session_not_found() -> NotFound:
    return NotFound(SESSION_NOT_FOUND, suggestions=["Start a new conversation."])


def _count(value, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput(f"{name} must be a non-negative integer, not {value!r}.")
    return value
