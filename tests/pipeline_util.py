"""A pipeline on a real SQLite store and registry for tests, the owners they act as, and what a request wrote.

`make_pipeline(settings)` builds the same parts as the app (store with the prompt templates, registry, router,
refiner); `send` sends one message as an owner; `db_state` counts every table and image file, so a test can
assert that a refused request wrote nothing.
"""

import sqlite3

from models.cache import ModelCache
from models.registry import build_registry
from pipeline.boundary.identity import owner_from_token
from pipeline.run.process import Pipeline
from pipeline.store import Store
from pipeline.understand.presets import seed_templates
from pipeline.understand.refine import Refiner
from pipeline.understand.router import Router

ALICE = owner_from_token("alice-token-12345", "secret")
BOB = owner_from_token("bob-token-4567890", "secret")


def make_pipeline(settings, registry=None, router=None):
    store = Store(settings.db_path, settings.images_dir)
    seed_templates(store)
    registry = registry or build_registry(settings, ModelCache(2**30))
    return Pipeline(settings, store, registry, router or Router(settings, registry), Refiner(store)), store


def send(pipe, text, session_id="", images=(), owner=ALICE, **context):
    return pipe.process_message(text, session_id, list(images), {"owner": owner, **context})


def db_state(store) -> dict:
    """Everything a request could write: row counts of every table and the image files on disk."""
    conn = sqlite3.connect(store.db_path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name NOT LIKE 'sqlite_%' AND name != 'prompt_templates'")]
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
        counts["usage"] = conn.execute("SELECT SUM(usage_count) FROM prompt_templates").fetchone()[0]
    finally:
        conn.close()
    counts["files"] = sorted(p.name for p in store.images_dir.rglob("*") if p.is_file())
    return counts
