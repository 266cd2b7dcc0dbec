"""Prompt templates and routing corrections: the two small tables beside the conversation data.

Templates are the seed's style presets (`{prompt}` placeholder, negative prompt, examples, tags, usage count),
keyed by a unique name and shared by all users. Routing corrections record "no, I meant …" so the router can be
evaluated and tuned; they keep the message text and session id even after the message is deleted
(`ON DELETE SET NULL` on the message link). Mixed into `Store`, which supplies `db` and `_check_owner`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from core.errors import InvalidInput, NotFound
from pipeline.store.rows import template_from_row, to_json

UPSERT_TEMPLATE_SQL = """
    INSERT INTO prompt_templates (name, description, category, template, negative, examples, tags, is_active,
                                  created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET
        description = excluded.description, category = excluded.category, template = excluded.template,
        negative = excluded.negative, examples = excluded.examples, tags = excluded.tags,
        is_active = excluded.is_active, updated_at = excluded.updated_at"""


class CorrectionsAndTemplates:
    def record_correction(self, session_id: str, owner: str, message_id: int | None, text: str,
                          from_intent: str, to_intent: str) -> int:
        """Remember that `text` was routed to `from_intent` but meant `to_intent`; returns the correction id."""
        if not all(isinstance(value, str) for value in (text, from_intent, to_intent)):
            raise InvalidInput("A routing correction needs the text and both intent names.")
        with self.db.transaction() as conn:
            self._check_owner(conn, session_id, owner)
            if message_id is not None and conn.execute(
                    "SELECT 1 FROM messages WHERE id = ? AND session_id = ?", (message_id, session_id)).fetchone() is None:
                raise NotFound("That message is not part of this conversation.")
            return conn.execute(
                "INSERT INTO routing_corrections (message_id, session_id, text, from_intent, to_intent, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", (message_id, session_id, text, from_intent, to_intent, time.time())).lastrowid

    def corrections(self, limit: int = 1000) -> list[dict]:
        """The most recent routing corrections, newest first (for evaluating the router)."""
        rows = self.db.connection().execute("SELECT * FROM routing_corrections ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(row) for row in rows]

    def upsert_template(self, name: str, *, description: str = "", category: str = "style", template: str = "{prompt}",
                        negative: str = "", examples: Iterable[str] = (), tags: Iterable[str] = (),
                        is_active: bool = True) -> dict:
        """Create the template `name` or replace its fields (keeping its usage count and creation time)."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("A prompt template needs a name.")
        if not isinstance(template, str) or "{prompt}" not in template:
            raise InvalidInput(f"The template {name!r} must contain the {{prompt}} placeholder.")
        now = time.time()
        values = (name, description, category, template, negative, to_json(list(examples), "template examples"),
                  to_json(list(tags), "template tags"), int(bool(is_active)), now, now)
        with self.db.transaction() as conn:
            conn.execute(UPSERT_TEMPLATE_SQL, values)
            return template_from_row(conn.execute("SELECT * FROM prompt_templates WHERE name = ?", (name,)).fetchone())

    def get_template(self, name: str) -> dict | None:
        row = self.db.connection().execute("SELECT * FROM prompt_templates WHERE name = ?", (name,)).fetchone()
        return None if row is None else template_from_row(row)

    def list_templates(self, active_only: bool = True) -> list[dict]:
        where = "WHERE is_active = 1 " if active_only else ""
        rows = self.db.connection().execute(f"SELECT * FROM prompt_templates {where}ORDER BY category, name")
        return [template_from_row(row) for row in rows]

    def increment_template_usage(self, name: str) -> int:
        """Count one more use of the template; returns the new count."""
        with self.db.transaction() as conn:
            if conn.execute("UPDATE prompt_templates SET usage_count = usage_count + 1 WHERE name = ?",
                            (name,)).rowcount == 0:
                raise NotFound(f"There is no prompt template named {name!r}.")
            return conn.execute("SELECT usage_count FROM prompt_templates WHERE name = ?", (name,)).fetchone()[0]
