"""The store's schema as numbered migrations, tracked in `PRAGMA user_version`.

`MIGRATIONS[n - 1]` turns a version n-1 database into version n. `migrate()` applies the missing ones in
order, each in its own `BEGIN IMMEDIATE` transaction together with the `user_version` bump (SQLite DDL is
transactional, so a failed migration leaves the previous version intact), and re-reads the version inside that
transaction so two processes opening the same file at once cannot apply a step twice. A database newer than
this code is refused rather than silently misread. Never edit a released migration: append a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from pipeline.store.db import Database

Migration = Callable[[sqlite3.Connection], None]


def _run(conn: sqlite3.Connection, statements: Sequence[str]) -> None:
    # Not executescript(): it COMMITs the open transaction first.
    for statement in statements:
        conn.execute(statement)


def _v1_initial_schema(conn: sqlite3.Connection) -> None:
    """The seed's tables: sessions, messages, content-addressed images, their links, prompt templates."""
    _run(conn, [
        """CREATE TABLE sessions (
            id         TEXT PRIMARY KEY,
            owner      TEXT NOT NULL,
            title      TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            metadata   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
        )""",
        # list_sessions(owner) newest first; the implicit rowid breaks ties in the same index.
        "CREATE INDEX idx_sessions_owner_updated ON sessions (owner, updated_at)",
        """CREATE TABLE messages (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            role       TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content    TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            metadata   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
        )""",
        # The last N messages of a session: one index range, read backwards (id is the rowid).
        "CREATE INDEX idx_messages_session ON messages (session_id, id)",
        """CREATE TABLE images (
            id         TEXT PRIMARY KEY CHECK (length(id) = 64),
            path       TEXT NOT NULL,
            width      INTEGER NOT NULL CHECK (width > 0),
            height     INTEGER NOT NULL CHECK (height > 0),
            mime       TEXT NOT NULL,
            created_at REAL NOT NULL,
            parent_ids TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(parent_ids)),
            recipe     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(recipe))
        )""",
        """CREATE TABLE message_images (
            message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
            image_id   TEXT NOT NULL REFERENCES images (id),
            position   INTEGER NOT NULL CHECK (position >= 0),
            PRIMARY KEY (message_id, position)
        ) WITHOUT ROWID""",
        # Who may read an image, and whether an image is still linked anywhere.
        "CREATE INDEX idx_message_images_image ON message_images (image_id)",
        """CREATE TABLE prompt_templates (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            description TEXT NOT NULL DEFAULT '',
            category    TEXT NOT NULL DEFAULT 'style',
            template    TEXT NOT NULL DEFAULT '{prompt}',
            negative    TEXT NOT NULL DEFAULT '',
            examples    TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(examples)),
            tags        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
            is_active   INTEGER NOT NULL DEFAULT 1,
            usage_count INTEGER NOT NULL DEFAULT 0,
            created_at  REAL NOT NULL,
            updated_at  REAL NOT NULL
        )""",
    ])


def _v2_routing_corrections(conn: sqlite3.Connection) -> None:
    """Users' corrections of a misrouted message ("no, I meant…"), kept to improve the router."""
    _run(conn, [
        """CREATE TABLE routing_corrections (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id  INTEGER REFERENCES messages (id) ON DELETE SET NULL,
            session_id  TEXT,
            text        TEXT NOT NULL,
            from_intent TEXT NOT NULL,
            to_intent   TEXT NOT NULL,
            created_at  REAL NOT NULL
        )""",
        # Without it, every deleted message would scan this table to apply ON DELETE SET NULL.
        "CREATE INDEX idx_routing_corrections_message ON routing_corrections (message_id)",
    ])


def _v3_result_cache(conn: sqlite3.Connection) -> None:
    """Finished capability runs by content key, per owner, so the same request on the same image is not redone
    (pipeline.run.result_cache). The images stay in `images`; an entry whose images are gone is a miss."""
    _run(conn, [
        """CREATE TABLE result_cache (
            owner       TEXT NOT NULL,
            key         TEXT NOT NULL CHECK (length(key) = 64),
            capability  TEXT NOT NULL,
            backend     TEXT NOT NULL,
            model_id    TEXT,
            image_ids   TEXT NOT NULL CHECK (json_valid(image_ids)),
            result      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(result)),
            created_at  REAL NOT NULL,
            last_hit_at REAL,
            hits        INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (owner, key)
        ) WITHOUT ROWID""",
    ])


MIGRATIONS: tuple[Migration, ...] = (_v1_initial_schema, _v2_routing_corrections, _v3_result_cache)
LATEST_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The database was written by a newer version of the gateway."""


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: Database, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Bring the database up to `len(migrations)`; return the versions applied (empty when already current)."""
    target = len(migrations)
    current = schema_version(db.connection())
    if current > target:
        raise SchemaTooNew(f"{db.path} has schema version {current}, newer than this gateway's {target}; "
                           "upgrade the gateway or point it at another data folder.")
    applied = []
    for version in range(current + 1, target + 1):
        with db.transaction() as conn:
            if schema_version(conn) >= version:  # another process got there first
                continue
            migrations[version - 1](conn)
            conn.execute(f"PRAGMA user_version = {int(version)}")
        applied.append(version)
    return applied
