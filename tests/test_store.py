"""The SQLite store on real database files: migrations, atomic messages, content-addressed files, owner
isolation, speed with 100k messages, concurrent writers, templates and routing corrections."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import statistics
import threading
import time

import pytest

from core.errors import InvalidInput, NotFound
from pipeline.store import ImageRow, MessageRow, NewImage, SessionRow, Store
from pipeline.store.db import Database
from pipeline.store.migrations import LATEST_VERSION, MIGRATIONS, SchemaTooNew, migrate, schema_version
from pipeline.store.store import HISTORY_SQL


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "db" / "gateway.sqlite3", tmp_path / "images") as opened:
        yield opened


def image(seed: str, width: int = 8, height: int = 6, **kwargs) -> NewImage:
    return NewImage(data=f"image bytes {seed}".encode() * 10, width=width, height=height, **kwargs)


def rows(store: Store, sql: str, *args) -> list[tuple]:
    return [tuple(row) for row in store.db.connection().execute(sql, args)]


def count(store: Store, table: str) -> int:
    return rows(store, f"SELECT COUNT(*) FROM {table}")[0][0]


def files_on_disk(store: Store) -> list:
    return sorted(path for path in store.images_dir.rglob("*") if path.is_file())


# --- opening, pragmas, migrations -------------------------------------------------------------------------------

def test_fresh_database_is_at_the_latest_version_with_the_pragmas(store):
    conn = store.db.connection()
    assert schema_version(conn) == LATEST_VERSION == len(MIGRATIONS)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"sessions", "messages", "images", "message_images", "prompt_templates", "routing_corrections"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_each_thread_gets_its_own_connection_with_the_same_pragmas(store):
    seen = {}

    def worker():
        conn = store.db.connection()
        seen["conn"] = conn
        seen["fk"] = conn.execute("PRAGMA foreign_keys").fetchone()[0]

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["conn"] is not store.db.connection()
    assert seen["fk"] == 1


def test_upgrade_from_version_1_keeps_the_data(tmp_path):
    db_path = tmp_path / "old.sqlite3"
    old = Database(db_path)
    assert migrate(old, MIGRATIONS[:1]) == [1]
    with old.transaction() as conn:
        conn.execute("INSERT INTO sessions (id, owner, title, created_at, updated_at, metadata) "
                     "VALUES ('s1', 'alice', 'old chat', 1.0, 1.0, '{}')")
        conn.execute("INSERT INTO messages (session_id, role, content, created_at) VALUES ('s1', 'user', 'hello', 2.0)")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "routing_corrections" not in tables
    old.close()

    with Store(db_path, tmp_path / "images") as store:
        assert schema_version(store.db.connection()) == LATEST_VERSION
        assert [m.content for m in store.history("s1", "alice")] == ["hello"]
        message_id = store.history("s1", "alice")[0].id
        assert store.record_correction("s1", "alice", message_id, "hello", "chat", "image_generation") > 0


def test_reopening_a_current_database_applies_nothing(tmp_path):
    db_path = tmp_path / "gateway.sqlite3"
    with Store(db_path, tmp_path / "images") as store:
        session = store.create_session("alice", "kept")
    reopened = Database(db_path)
    assert migrate(reopened) == []
    reopened.close()
    with Store(db_path, tmp_path / "images") as store:
        assert store.get_session(session.id, "alice").title == "kept"


def test_a_failing_migration_leaves_the_previous_version(tmp_path):
    def broken(conn):
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("migration bug")

    db = Database(tmp_path / "gateway.sqlite3")
    with pytest.raises(RuntimeError, match="migration bug"):
        migrate(db, (*MIGRATIONS, broken))
    conn = db.connection()
    assert schema_version(conn) == LATEST_VERSION
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchone() is None
    db.close()


def test_a_database_newer_than_the_code_is_refused(tmp_path):
    db = Database(tmp_path / "gateway.sqlite3")
    db.connection().execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    db.close()
    with pytest.raises(SchemaTooNew):
        Store(tmp_path / "gateway.sqlite3", tmp_path / "images")


def test_transaction_rolls_back_and_reraises(store):
    with pytest.raises(ValueError, match="boom"):
        with store.db.transaction() as conn:
            conn.execute("INSERT INTO sessions (id, owner, created_at, updated_at) VALUES ('x', 'a', 1, 1)")
            raise ValueError("boom")
    assert count(store, "sessions") == 0
    assert not store.db.connection().in_transaction


def test_close_closes_connections_and_refuses_further_use(tmp_path):
    store = Store(tmp_path / "gateway.sqlite3", tmp_path / "images")
    conn = store.db.connection()
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")
    with pytest.raises(RuntimeError, match="closed"):
        store.create_session("alice")


# --- messages and images ---------------------------------------------------------------------------------------

def test_add_message_round_trips_metadata_and_images(store):
    session = store.create_session("alice", "Dragons", {"lang": "fr"})
    metadata = {"intent": "image_generation", "confidence": 0.93, "timings": {"classify_ms": 1.5},
                "suggestions": ["Upscale", "Retirer l'arrière-plan"], "prompt": "un dragon 🐉"}
    first = image("a", recipe={"capability": "image_generation", "seed": 7, "prompt": "un dragon 🐉"})
    second = image("b", parent_ids=[first.id], recipe={"capability": "upscale", "scale": 4})
    message = store.add_message(session.id, "alice", "assistant", "Voilà", metadata=metadata,
                                new_images=[first, second])
    assert isinstance(message, MessageRow) and message.metadata == metadata
    assert [img.id for img in message.images] == [first.id, second.id]
    assert message.images[1].parent_ids == [first.id]
    assert message.images[0].recipe["prompt"] == "un dragon 🐉"
    assert isinstance(message.images[0], ImageRow) and message.images[0].path.is_absolute()
    assert message.images[0].path.read_bytes() == first.data
    raw = rows(store, "SELECT metadata FROM messages WHERE id = ?", message.id)[0][0]
    assert "🐉" in raw  # ensure_ascii=False
    assert store.history(session.id, "alice")[0] == message


def test_images_are_content_addressed_and_written_once(store):
    session = store.create_session("alice")
    same = image("same")
    first = store.add_message(session.id, "alice", "user", "one", new_images=[same])
    mtime = first.images[0].path.stat().st_mtime_ns
    second = store.add_message(session.id, "alice", "user", "two", new_images=[image("same")])
    assert first.images[0].id == second.images[0].id == hashlib.sha256(same.data).hexdigest()
    assert count(store, "images") == 1 and count(store, "message_images") == 2
    assert files_on_disk(store) == [store.images_dir / same.id[:2] / f"{same.id}.png"]
    assert second.images[0].path.stat().st_mtime_ns == mtime  # not rewritten


def test_image_ids_are_linked_before_new_images(store):
    session = store.create_session("alice")
    earlier = store.add_message(session.id, "alice", "assistant", "made", new_images=[image("old")]).images[0]
    message = store.add_message(session.id, "alice", "user", "swap these", image_ids=[earlier.id],
                                new_images=[image("new1"), image("new2")])
    assert [img.id for img in message.images] == [earlier.id, image("new1").id, image("new2").id]
    assert rows(store, "SELECT position FROM message_images WHERE message_id = ? ORDER BY position", message.id) == [
        (0,), (1,), (2,)]


def test_a_database_failure_midway_leaves_nothing_of_the_message(store):
    session = store.create_session("alice")
    before = store.get_session(session.id, "alice").updated_at
    bad = image("bad")
    object.__setattr__(bad, "width", 0)  # slips past NewImage's check; the images CHECK constraint refuses it
    with pytest.raises(sqlite3.IntegrityError):
        store.add_message(session.id, "alice", "assistant", "two images", new_images=[image("good"), bad])
    assert count(store, "messages") == count(store, "message_images") == count(store, "images") == 0
    assert store.get_session(session.id, "alice").updated_at == before


def test_a_failing_link_insert_rolls_everything_back(store, monkeypatch):
    session = store.create_session("alice")
    calls = []
    real_link = Store._link_image

    def link_then_fail(conn, message_id, image_id, position):
        calls.append(position)
        if len(calls) == 2:
            raise RuntimeError("crash between two links")
        real_link(conn, message_id, image_id, position)

    monkeypatch.setattr(Store, "_link_image", staticmethod(link_then_fail))
    with pytest.raises(RuntimeError, match="crash between"):
        store.add_message(session.id, "alice", "assistant", "x", new_images=[image("1"), image("2")])
    assert calls == [0, 1]
    assert count(store, "messages") == count(store, "message_images") == count(store, "images") == 0
    assert store.message_count(session.id, "alice") == 0


def test_collect_garbage_removes_files_no_row_names(store):
    session = store.create_session("alice")
    kept = store.add_message(session.id, "alice", "user", "kept", new_images=[image("kept")]).images[0]
    orphan = image("orphan")
    with pytest.raises(NotFound):  # the link to an unknown image id fails after the orphan's file was written
        store.add_message(session.id, "alice", "user", "x", new_images=[orphan], image_ids=["f" * 64])
    assert len(files_on_disk(store)) == 2
    assert store.collect_garbage(min_age_s=3600) == {"image_rows": 0, "files": 0}  # too young to remove
    assert store.collect_garbage(min_age_s=0) == {"image_rows": 0, "files": 1}
    assert files_on_disk(store) == [kept.path]


def test_invalid_messages_are_refused_before_writing(store):
    session = store.create_session("alice")
    with pytest.raises(ValueError, match="role"):
        store.add_message(session.id, "alice", "system", "x")
    with pytest.raises(TypeError, match="JSON"):
        store.add_message(session.id, "alice", "user", "x", metadata={"bad": object()})
    with pytest.raises(ValueError, match="non-empty"):
        NewImage(b"", 1, 1)
    with pytest.raises(ValueError, match="positive integer width"):
        NewImage(b"x", 0, 1)
    with pytest.raises(ValueError, match="x-unknown"):
        store.add_message(session.id, "alice", "user", "x", new_images=[image("a", mime="image/x-unknown")])
    with pytest.raises(InvalidInput):
        store.create_session("  ")
    assert count(store, "messages") == 0 and files_on_disk(store) == []


# --- reading --------------------------------------------------------------------------------------------------

def test_history_is_oldest_first_with_limit_and_before_id(store):
    session = store.create_session("alice")
    other = store.create_session("alice")
    ids = []
    for n in range(10):
        ids.append(store.add_message(session.id, "alice", "user" if n % 2 == 0 else "assistant", f"m{n}",
                                     new_images=[image(f"h{n}")] if n % 3 == 0 else ()).id)
        store.add_message(other.id, "alice", "user", f"other {n}")
    assert [m.content for m in store.history(session.id, "alice")] == [f"m{n}" for n in range(10)]
    last3 = store.history(session.id, "alice", limit=3)
    assert [m.content for m in last3] == ["m7", "m8", "m9"]
    assert [len(m.images) for m in last3] == [0, 0, 1]
    page = store.history(session.id, "alice", limit=4, before_id=last3[0].id)
    assert [m.content for m in page] == ["m3", "m4", "m5", "m6"]
    assert page[0].images[0].id == image("h3").id
    assert store.history(session.id, "alice", limit=5, before_id=ids[0]) == []
    assert store.history(session.id, "alice", limit=0) == []
    assert store.message_count(session.id, "alice") == 10
    with pytest.raises(InvalidInput):
        store.history(session.id, "alice", limit=-1)


def test_latest_image_is_the_last_image_of_the_latest_message_with_images(store):
    session = store.create_session("alice")
    assert store.latest_image(session.id, "alice") is None
    store.add_message(session.id, "alice", "assistant", "first", new_images=[image("1")])
    store.add_message(session.id, "alice", "assistant", "pair", new_images=[image("2a"), image("2b")])
    store.add_message(session.id, "alice", "user", "now upscale it")  # text only: skipped
    assert store.latest_image(session.id, "alice").id == image("2b").id


def test_images_of_session_lists_each_image_once_in_order_of_first_use(store):
    session = store.create_session("alice")
    a, b, c = image("a"), image("b"), image("c")
    store.add_message(session.id, "alice", "user", "1", new_images=[a])
    store.add_message(session.id, "alice", "assistant", "2", image_ids=[a.id], new_images=[b])
    store.add_message(session.id, "alice", "assistant", "3", image_ids=[b.id, a.id], new_images=[c])
    assert [img.id for img in store.images_of_session(session.id, "alice")] == [a.id, b.id, c.id]


def test_sessions_are_listed_most_recently_updated_first_and_metadata_merges(store):
    older = store.create_session("alice", "older")
    newer = store.create_session("alice", "newer")
    assert [s.id for s in store.list_sessions("alice")] == [newer.id, older.id]
    store.add_message(older.id, "alice", "user", "bump")
    listed = store.list_sessions("alice")
    assert [s.id for s in listed] == [older.id, newer.id]
    assert isinstance(listed[0], SessionRow) and listed[0].message_count == 1
    assert [s.id for s in store.list_sessions("alice", limit=1)] == [older.id]
    store.update_session(newer.id, "alice", metadata_updates={"style": "anime"})
    updated = store.update_session(newer.id, "alice", title="Renamed", metadata_updates={"count": 2})
    assert updated.title == "Renamed" and updated.metadata == {"style": "anime", "count": 2}
    assert store.list_sessions("alice")[0].id == newer.id


# --- owners ---------------------------------------------------------------------------------------------------

def test_another_owner_sees_nothing_and_deletes_nothing(store):
    session = store.create_session("alice", "private")
    message = store.add_message(session.id, "alice", "assistant", "secret", new_images=[image("secret")])
    img = message.images[0]
    missing = "0" * 32
    for reader in (lambda sid: store.get_session(sid, "bob"), lambda sid: store.history(sid, "bob"),
                   lambda sid: store.latest_image(sid, "bob"), lambda sid: store.message_count(sid, "bob"),
                   lambda sid: store.images_of_session(sid, "bob"),
                   lambda sid: store.update_session(sid, "bob", title="mine now"),
                   lambda sid: store.add_message(sid, "bob", "user", "hi")):
        with pytest.raises(NotFound) as foreign:
            reader(session.id)
        with pytest.raises(NotFound) as unknown:
            reader(missing)
        assert foreign.value.message == unknown.value.message  # ids cannot be probed
    with pytest.raises(NotFound):
        store.get_image(img.id, "bob")
    bob_session = store.create_session("bob")
    with pytest.raises(NotFound):  # cannot pull alice's image into his own chat by its hash
        store.add_message(bob_session.id, "bob", "user", "mine", image_ids=[img.id])
    assert store.delete_session(session.id, "bob") is False
    assert [s.id for s in store.list_sessions("bob")] == [bob_session.id]
    assert store.owner_can_read_path("bob", img.path) is False
    assert store.owner_can_read_path("alice", img.path) is True
    assert store.owner_can_read_path("alice", str(img.path)) is True
    assert store.get_image(img.id, "alice") == img
    assert store.history(session.id, "alice")[0].content == "secret" and img.path.exists()


def test_owner_can_read_path_refuses_paths_outside_the_images(store, tmp_path):
    session = store.create_session("alice")
    img = store.add_message(session.id, "alice", "user", "x", new_images=[image("x")]).images[0]
    assert store.owner_can_read_path("alice", store.db_path) is False
    assert store.owner_can_read_path("alice", store.images_dir / img.id[:2] / ".." / ".." / "db") is False
    copy = tmp_path / img.path.name
    copy.write_bytes(img.path.read_bytes())
    assert store.owner_can_read_path("alice", copy) is False
    assert store.owner_can_read_path("alice", None) is False


def test_delete_removes_unreferenced_files_and_keeps_shared_ones(store):
    doomed = store.create_session("alice")
    keeper = store.create_session("alice")
    shared, own = image("shared"), image("own")
    message = store.add_message(doomed.id, "alice", "assistant", "x", new_images=[shared, own])
    store.add_message(keeper.id, "alice", "user", "y", image_ids=[shared.id])
    correction = store.record_correction(doomed.id, "alice", message.id, "x", "chat", "image_generation")
    assert store.delete_session(doomed.id, "alice") is True
    assert store.delete_session(doomed.id, "alice") is False
    shared_row, own_row = message.images
    assert shared_row.path.exists() and not own_row.path.exists()
    assert rows(store, "SELECT id FROM images") == [(shared.id,)]
    assert count(store, "messages") == 1 and count(store, "message_images") == 1
    # the correction survives for router evaluation, without the deleted user's words or session
    assert rows(store, "SELECT message_id, session_id, text, from_intent, to_intent FROM routing_corrections WHERE id = ?",
                correction) == [(None, None, "", "chat", "image_generation")]
    assert store.latest_image(keeper.id, "alice").id == shared.id


# --- templates and corrections ---------------------------------------------------------------------------------

def test_templates_upsert_keeps_usage_and_creation(store):
    created = store.upsert_template("anime", template="anime style, {prompt}", negative="photo",
                                    examples=["a cat"], tags=["style", "アニメ"])
    assert created["usage_count"] == 0 and created["tags"] == ["style", "アニメ"] and created["is_active"] is True
    assert store.increment_template_usage("anime") == 1
    assert store.increment_template_usage("anime") == 2
    updated = store.upsert_template("anime", template="{prompt}, anime key visual", is_active=False)
    assert updated["usage_count"] == 2 and updated["created_at"] == created["created_at"]
    assert updated["template"] == "{prompt}, anime key visual" and updated["examples"] == []
    store.upsert_template("photo", template="photo of {prompt}")
    assert [t["name"] for t in store.list_templates()] == ["photo"]
    assert [t["name"] for t in store.list_templates(active_only=False)] == ["anime", "photo"]
    assert store.get_template("anime")["is_active"] is False and store.get_template("nope") is None
    with pytest.raises(InvalidInput):
        store.upsert_template("broken", template="no placeholder")
    with pytest.raises(NotFound):
        store.increment_template_usage("nope")


def test_a_correction_is_recorded_only_in_the_owners_session(store):
    session = store.create_session("alice")
    message = store.add_message(session.id, "alice", "user", "make it pop")
    correction_id = store.record_correction(session.id, "alice", message.id, "make it pop", "chat", "image_edit")
    assert store.corrections()[0] == {"id": correction_id, "message_id": message.id, "session_id": session.id,
                                      "text": "make it pop", "from_intent": "chat", "to_intent": "image_edit",
                                      "created_at": pytest.approx(time.time(), abs=60)}
    with pytest.raises(NotFound):
        store.record_correction(session.id, "bob", message.id, "x", "chat", "image_edit")
    other = store.create_session("alice")
    with pytest.raises(NotFound):
        store.record_correction(other.id, "alice", message.id, "x", "chat", "image_edit")
    assert count(store, "routing_corrections") == 1


# --- concurrency and speed -------------------------------------------------------------------------------------

def test_eight_threads_write_at_once_without_lock_errors(store):
    shared = store.create_session("alice")
    errors, per_thread = [], 20
    barrier = threading.Barrier(8)

    def writer(n: int):
        try:
            own = store.create_session(f"owner{n}")
            barrier.wait()
            for i in range(per_thread):
                store.add_message(own.id, f"owner{n}", "user", f"{n}-{i}", new_images=[image(f"t{n}-{i}")])
                store.add_message(shared.id, "alice", "assistant", f"{n}-{i}", metadata={"thread": n})
                store.history(own.id, f"owner{n}", limit=5)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.message_count(shared.id, "alice") == 8 * per_thread
    assert count(store, "messages") == 16 * per_thread and count(store, "images") == 8 * per_thread
    assert len(files_on_disk(store)) == 8 * per_thread


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    """100k messages over 1000 sessions, interleaved as real traffic would be; one session in ten has images."""
    root = tmp_path_factory.mktemp("big")
    store = Store(root / "gateway.sqlite3", root / "images")
    sessions = [store.create_session(f"owner{n % 50}") for n in range(1000)]
    metadata = json.dumps({"intent": "image_generation", "confidence": 0.9, "timings": {"total_ms": 12.5}})
    with store.db.transaction() as conn:
        conn.executemany("INSERT INTO messages (session_id, role, content, created_at, metadata) VALUES (?, ?, ?, ?, ?)",
                         ((sessions[n % 1000].id, "user" if n % 2 else "assistant", f"message {n}", n, metadata)
                          for n in range(100_000)))
        conn.executemany("INSERT INTO images (id, path, width, height, mime, created_at) VALUES (?, ?, 64, 64, "
                         "'image/png', 0)", ((f"{n:064x}", f"{n:064x}"[:2] + f"/{n:064x}.png") for n in range(10_000)))
        conn.executemany("INSERT INTO message_images (message_id, image_id, position) VALUES (?, ?, 0)",
                         ((n * 10 + 8, f"{n:064x}") for n in range(10_000)))  # sessions 7, 17, … 997
    yield store, sessions[7]
    store.close()


def test_last_50_messages_of_100k_are_fast_and_indexed(big_store):
    store, session = big_store
    assert count(store, "messages") == 100_000
    timings = []
    for _ in range(15):
        start = time.perf_counter()
        history = store.history(session.id, session.owner, limit=50)
        timings.append(time.perf_counter() - start)
    assert len(history) == 50 and history[-1].content == "message 99007"
    assert [len(m.images) for m in history] == [1] * 50
    assert statistics.median(timings) < 0.020, f"median {statistics.median(timings) * 1000:.2f} ms"
    plan = " ".join(row[3] for row in store.db.connection().execute(
        f"EXPLAIN QUERY PLAN {HISTORY_SQL}", (session.id, 2**63 - 1, 50)))
    assert "idx_messages_session" in plan and "SCAN" not in plan
    start = time.perf_counter()
    assert store.latest_image(session.id, session.owner) is not None
    assert store.list_sessions(session.owner, limit=20)[0].message_count == 100
    assert time.perf_counter() - start < 0.050
