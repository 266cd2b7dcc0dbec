"""Persistence of conversations: SQLite (standard-library `sqlite3`) for rows, content-addressed files for images.

Plain `sqlite3` rather than an ORM: no extra dependency, full control of pragmas, transactions and migrations,
and the schema is small and fixed. `Store` is the one entry point; see `store.py` for the owner rules and
`migrations.py` for the schema.
"""

from pipeline.store.rows import ImageRow, MessageRow, NewImage, SessionRow
from pipeline.store.store import Store

__all__ = ["Store", "NewImage", "SessionRow", "MessageRow", "ImageRow"]
