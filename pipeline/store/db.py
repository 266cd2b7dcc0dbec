"""SQLite connections for the store: one per thread, the same pragmas on each, explicit transactions.

`Database` hands every thread its own `sqlite3.Connection` (kept in a `threading.local`), opened in
autocommit mode (`isolation_level=None`) so that Python never starts or commits a transaction behind our back:
writes go through `transaction()`, which issues `BEGIN IMMEDIATE` (the write lock is taken up front, so two
writers queue on `busy_timeout` instead of failing with "database is locked" when a read lock is upgraded),
commits on success and rolls back on any exception. `snapshot()` gives multi-query reads one consistent view.
Each connection runs in WAL mode (readers never block the writer) with foreign keys on and
`synchronous=NORMAL` (durable at checkpoints, ~55 µs per small transaction instead of an fsync each).
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_MS = 5000


class Database:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        # (owner thread, connection) for close(); connections of finished threads are closed when a new one opens.
        self._connections: list[tuple[weakref.ref, sqlite3.Connection]] = []
        self._lock = threading.Lock()
        self._closed = False

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened (with the pragmas) on first use."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the store at {self.path} is closed")
            self._close_orphaned()
            conn = self._open()
            self._connections.append((weakref.ref(threading.current_thread()), conn))
        self._local.conn = conn
        return conn

    def _close_orphaned(self) -> None:
        alive = []
        for thread_ref, conn in self._connections:
            thread = thread_ref()
            if thread is not None and thread.is_alive():
                alive.append((thread_ref, conn))
            else:
                conn.close()
        self._connections = alive

    def _open(self) -> sqlite3.Connection:
        # check_same_thread=False only so that close() may close other threads' connections; each
        # connection is otherwise used by the thread that opened it.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT; ROLLBACK and re-raise on any exception. Nested use joins the outer one."""
        conn = self.connection()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            # SQLite rolls back by itself after some errors (disk full, I/O); a second ROLLBACK would
            # replace the real error with "no transaction is active".
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same committed state."""
        conn = self.connection()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN DEFERRED")
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def close(self) -> None:
        """Close every thread's connection; the Database cannot be used afterwards."""
        with self._lock:
            self._closed = True
            connections = [conn for _, conn in self._connections]
            self._connections = []
        for conn in connections:
            conn.close()
        self._local = threading.local()
