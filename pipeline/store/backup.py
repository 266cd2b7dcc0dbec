"""Sessions that survive a restart without a persistent disk: snapshots to a backup folder, restored when empty.

The live SQLite file and the images stay on local disk (WAL is unsafe on the network/FUSE mounts that Storage
Buckets are). `Backup` copies them to `GATEWAY_BACKUP_DIR`:

    manifest.json                 the one pointer to the current snapshot, written last and atomically
    snapshots/<sha256>.sqlite3    a consistent copy of the database (sqlite3 backup API), verified, content-addressed
    images/ab/<sha256>.png        the image files the snapshot references (content-addressed: copying is idempotent)
    owner_secret                  the generated owner secret, so identities survive too

A snapshot is taken every `GATEWAY_BACKUP_INTERVAL_S` when something changed (`PRAGMA data_version` on a
connection of its own) and on a clean shutdown. Its images are copied before the manifest points at it, and
images and snapshots the new manifest no longer references are deleted after it, so deletions reach the
backup. At start-up `restore_if_empty` copies the current snapshot back when the data dir has no database —
only after checking its hash and `PRAGMA integrity_check`; a partial or corrupt backup is never restored, and
this run then leaves the backup folder untouched for someone to inspect.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from pipeline.boundary.identity import SECRET_FILE

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"


class Backup:
    def __init__(self, backup_dir: Path, data_dir: Path, db_path: Path, images_dir: Path, interval_s: float = 300.0):
        self.root = Path(backup_dir)
        self.data_dir, self.db_path, self.images_dir = Path(data_dir), Path(db_path), Path(images_dir)
        self.interval_s = max(0.5, float(interval_s))
        self.read_only = False  # set when a restore was refused: the backup is kept as it is for inspection
        self.snapshots = 0
        self._lock = threading.Lock()
        self._source: sqlite3.Connection | None = None
        self._seen_version: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings) -> "Backup | None":
        if not (settings.backup_dir or "").strip():
            return None
        return cls(Path(settings.backup_dir).expanduser(), settings.data_dir, settings.db_path, settings.images_dir,
                   settings.backup_interval_s)

    # ---- restore ---------------------------------------------------------------------------------------------
    def restore_if_empty(self) -> dict | None:
        """Bring the backup back into a data dir without a database; None when there was nothing to do."""
        if self.db_path.exists():
            return None
        manifest = self.manifest()
        if manifest is None:
            log.info("backup: %s holds no snapshot yet; starting empty", self.root)
            return None
        snapshot = self.root / manifest["snapshot"]
        problem = _verify(snapshot, manifest.get("sha256", ""))
        if problem:
            self.read_only = True
            log.error("backup: NOT restoring %s: %s. Starting with an empty data dir; the backup folder is left "
                      "untouched (no snapshots this run) so it can be inspected.", snapshot, problem)
            return {"restored": False, "problem": problem}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _atomic_copy(snapshot, self.db_path)
        images = bad = 0
        for relative in _image_paths(self.db_path):
            source = self.root / "images" / relative
            if not source.is_file() or not _content_matches(source):
                bad += 1
                continue
            _atomic_copy(source, self.images_dir / relative)
            images += 1
        secret = self.root / SECRET_FILE
        if secret.is_file() and not (self.data_dir / SECRET_FILE).exists():
            _atomic_copy(secret, self.data_dir / SECRET_FILE)
            os.chmod(self.data_dir / SECRET_FILE, 0o600)
        log.info("backup: restored %s (%s) with %d image(s)%s", snapshot.name,
                 time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(manifest.get("created_at", 0))), images,
                 f"; {bad} image copies were missing or damaged" if bad else "")
        return {"restored": True, "images": images, "damaged_images": bad, "snapshot": manifest["snapshot"]}

    def manifest(self) -> dict | None:
        try:
            return json.loads((self.root / MANIFEST).read_text())
        except (FileNotFoundError, ValueError):
            return None

    # ---- snapshots -------------------------------------------------------------------------------------------
    def snapshot(self, *, force: bool = False) -> dict | None:
        """Copy the database (when it changed, or `force`) and its images; None when nothing was written."""
        if self.read_only or not self.db_path.exists():
            return None
        with self._lock:
            source = self._connection()
            version = source.execute("PRAGMA data_version").fetchone()[0]
            if not force and version == self._seen_version:
                return None
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.data_dir, prefix=".backup-") as work:
                copy = Path(work) / "snapshot.sqlite3"
                target = sqlite3.connect(copy)
                try:
                    source.backup(target)  # one consistent view, even while requests write
                    target.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
                finally:
                    target.close()
                problem = _verify(copy, "")
                if problem:
                    log.error("backup: the fresh snapshot failed its check (%s); keeping the previous one", problem)
                    return None
                digest = _sha256(copy)
                name = f"snapshots/{digest}.sqlite3"
                referenced = _image_paths(copy)
                copied = self._copy_images(referenced)
                if not (self.root / name).exists():
                    _atomic_copy(copy, self.root / name)
            self._copy_secret()
            manifest = {"snapshot": name, "sha256": digest, "bytes": (self.root / name).stat().st_size,
                        "images": len(referenced), "created_at": time.time(), "format": 1}
            _atomic_write(self.root / MANIFEST, json.dumps(manifest, indent=1).encode())
            removed = self._prune(name, set(referenced))
            self._seen_version = version
            self.snapshots += 1
        log.info("backup: snapshot %s (%d images, %d new, %d removed)", digest[:12], len(referenced), copied, removed)
        return manifest

    def _connection(self) -> sqlite3.Connection:
        if self._source is None:
            self._source = sqlite3.connect(self.db_path, check_same_thread=False, timeout=30)
        return self._source

    def _copy_images(self, referenced: list[str]) -> int:
        copied = 0
        for relative in referenced:
            source, target = self.images_dir / relative, self.root / "images" / relative
            if target.exists() and target.stat().st_size == source.stat().st_size:
                continue  # content-addressed: the same name holds the same bytes
            if source.is_file():
                _atomic_copy(source, target)
                copied += 1
        return copied

    def _copy_secret(self) -> None:
        local, kept = self.data_dir / SECRET_FILE, self.root / SECRET_FILE
        if local.is_file() and (not kept.is_file() or kept.read_bytes() != local.read_bytes()):
            _atomic_copy(local, kept)

    def _prune(self, current: str, referenced: set[str]) -> int:
        """Delete what the current manifest no longer references: older snapshots, deleted images."""
        removed = 0
        for path in (self.root / "snapshots").glob("*.sqlite3"):
            if f"snapshots/{path.name}" != current:
                path.unlink(missing_ok=True)
        images = self.root / "images"
        if images.is_dir():
            for path in images.glob("*/*"):
                if path.relative_to(images).as_posix() not in referenced:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed

    # ---- the background loop and shutdown ------------------------------------------------------------------------
    def start(self) -> None:
        if self.read_only or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="backup", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.snapshot()
            except Exception:  # noqa: BLE001 - a failed snapshot must not stop the next ones
                log.exception("backup: snapshot failed; retrying in %.0f s", self.interval_s)

    def stop(self) -> None:
        """Stop the loop and take a last snapshot if anything changed (clean shutdown, SIGTERM)."""
        self._stop.set()
        try:
            self.snapshot()
        finally:
            with self._lock:
                if self._source is not None:
                    self._source.close()
                    self._source = None


def _image_paths(db_file: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT path FROM images ORDER BY path")]
    except sqlite3.DatabaseError:
        return []
    finally:
        conn.close()


def _verify(path: Path, sha256: str) -> str:
    """'' when `path` is a complete, intact SQLite file (with the expected hash, when given), else why not."""
    if not path.is_file():
        return "the snapshot file is missing"
    if sha256 and _sha256(path) != sha256:
        return "its content does not match the manifest's hash (a partial or damaged copy)"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
            problems = [p for p in problems if not _false_not_null(conn, p)]
            conn.execute("SELECT COUNT(*) FROM sessions").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return f"it is not a readable gateway database ({exc})"
    return f"integrity_check says {'; '.join(problems[:3])}" if problems else ""


def _false_not_null(conn: sqlite3.Connection, problem: str) -> bool:
    """SQLite 3.40 reports 'NULL value in T.C' for indexed NOT NULL columns of WITHOUT ROWID tables that hold no
    NULL at all (Debian bookworm's libsqlite3): such a report is dismissed only when the column really has none."""
    match = re.fullmatch(r"NULL value in (\w+)\.(\w+)", problem)
    if not match:
        return False
    table, column = match.groups()
    return conn.execute(f'SELECT 1 FROM "{table}" WHERE "{column}" IS NULL LIMIT 1').fetchone() is None


def _content_matches(path: Path) -> bool:
    return _sha256(path) == path.name.split(".", 1)[0]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(source, "rb") as src, open(temp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _atomic_write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, target)
