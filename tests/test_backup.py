"""The backup folder on its own: snapshots only when something changed, deletions reach it, and a partial or
corrupt snapshot is never restored (real SQLite files and image files; the app-level restarts are in
test_deploy.py)."""

from __future__ import annotations

import io
import json

from PIL import Image

from pipeline.store import NewImage, Store
from pipeline.store.backup import Backup


def _png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, "PNG")
    return buf.getvalue()


def _setup(tmp_path):
    data = tmp_path / "data"
    store = Store(data / "gateway.sqlite3", data / "images")
    backup = Backup(tmp_path / "bucket", data, data / "gateway.sqlite3", data / "images", interval_s=3600)
    return store, backup


def _message_with_image(store, owner, colour):
    session = store.create_session(owner, "t")
    image = NewImage(data=_png(colour), width=8, height=8, mime="image/png")
    store.add_message(session.id, owner, "user", "hi", new_images=[image])
    return session, image


def test_a_snapshot_is_taken_only_when_something_changed(tmp_path):
    store, backup = _setup(tmp_path)
    _message_with_image(store, "o1", "red")
    assert backup.snapshot() is not None
    assert backup.snapshot() is None  # nothing changed since
    _message_with_image(store, "o1", "blue")
    manifest = backup.snapshot()
    assert manifest is not None and manifest["images"] == 2
    assert len(list((tmp_path / "bucket" / "snapshots").glob("*.sqlite3"))) == 1  # the previous one is gone
    store.close()


def test_deleting_a_session_deletes_its_images_from_the_backup(tmp_path):
    store, backup = _setup(tmp_path)
    keep, _ = _message_with_image(store, "o1", "red")
    gone, gone_image = _message_with_image(store, "o1", "green")
    backup.snapshot()
    copy = tmp_path / "bucket" / "images" / gone_image.id[:2] / f"{gone_image.id}.png"
    assert copy.is_file()
    store.delete_session(gone.id, "o1")
    backup.snapshot()
    assert not copy.exists()
    assert json.loads((tmp_path / "bucket" / "manifest.json").read_text())["images"] == 1
    store.close()


def test_a_damaged_snapshot_is_never_restored_and_the_backup_is_left_alone(tmp_path):
    store, backup = _setup(tmp_path)
    _message_with_image(store, "o1", "red")
    manifest = backup.snapshot()
    store.close()
    snapshot = tmp_path / "bucket" / manifest["snapshot"]
    snapshot.write_bytes(snapshot.read_bytes()[: snapshot.stat().st_size // 2])  # a half-copied file
    fresh = tmp_path / "fresh"
    restorer = Backup(tmp_path / "bucket", fresh, fresh / "gateway.sqlite3", fresh / "images")
    outcome = restorer.restore_if_empty()
    assert outcome == {"restored": False, "problem": outcome["problem"]} and "hash" in outcome["problem"]
    assert not (fresh / "gateway.sqlite3").exists()
    assert restorer.read_only and restorer.snapshot(force=True) is None  # nothing overwrites the evidence
    assert snapshot.exists()


def test_restore_only_into_an_empty_data_dir(tmp_path):
    store, backup = _setup(tmp_path)
    _message_with_image(store, "o1", "red")
    backup.snapshot()
    assert backup.restore_if_empty() is None  # a data dir with a database is never overwritten
    store.close()
    fresh = tmp_path / "fresh"
    restored = Backup(tmp_path / "bucket", fresh, fresh / "gateway.sqlite3", fresh / "images").restore_if_empty()
    assert restored["restored"] and restored["images"] == 1
    again = Store(fresh / "gateway.sqlite3", fresh / "images")
    assert [s.title for s in again.list_sessions("o1")] == ["t"]
    again.close()
