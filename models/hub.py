"""Weights from the Hugging Face Hub at run time: when it is allowed, exactly which files, one download at a time.

`HubFiles` names the files a backend needs from one repository (no whole repos: sdxl-turbo alone holds tens of
GB in other formats); the same lists feed `preload_from_hub` in the README's front matter. `local_snapshot`
answers from the huggingface_hub cache alone (a file only appears there once complete, so an interrupted
download never looks present). `download_policy` says whether this process may download: `GATEWAY_ALLOW_DOWNLOADS`
(on by default), not under `HF_HUB_OFFLINE`, and not while the Hub is unreachable. Reachability is probed at
start-up and again on demand: once the Hub failed to answer (the probe, or a download's connection), the next
request that needs weights after a backoff (5 s, doubling up to 5 min; one probe at a time, the others use its
last answer) asks again, so a Hub that comes back is used without a restart and one that stays down costs one
short HEAD request per interval.
`fetch(spec)` downloads through the real `hf_hub_download` (so `HF_ENDPOINT`, tokens and the cache layout are
huggingface_hub's own): one download per repository at a time however many requests want it, a free-disk
check first, progress per file in bytes to the requesting chat reply (`reporting_to`) and to the log, and a
cancel between chunks. huggingface_hub is imported inside the functions.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from core import platform
from core.errors import Cancelled, DownloadFailed

log = logging.getLogger(__name__)
DISK_HEADROOM_BYTES = 1 * 2**30  # left free after a download (logs, images, Gradio's cache)
LOG_EVERY_S = 5.0


@dataclass(frozen=True)
class HubFiles:
    """Files of one Hub repository that a backend needs (paths inside the repo)."""
    repo_id: str
    files: tuple[str, ...]
    revision: str | None = None

    @property
    def key(self) -> str:
        return f"{self.repo_id}@{self.revision or 'main'}"

    def preload_entry(self) -> str:
        """The `preload_from_hub` line: `repo file1,file2[ revision]`."""
        return " ".join([self.repo_id, ",".join(self.files)] + ([self.revision] if self.revision else []))


def merge(specs) -> list[HubFiles]:
    """One entry per (repo, revision), files in first-seen order without repeats."""
    merged: dict[tuple, list[str]] = {}
    for spec in specs:
        files = merged.setdefault((spec.repo_id, spec.revision), [])
        files.extend(f for f in spec.files if f not in files)
    return [HubFiles(repo, tuple(files), rev) for (repo, rev), files in merged.items()]


def cached_file(repo_id: str, filename: str, revision: str | None = None) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, revision=revision)
    return Path(found) if isinstance(found, str) else None


def missing_files(spec: HubFiles) -> list[str]:
    return [f for f in spec.files if cached_file(spec.repo_id, f, spec.revision) is None]


def local_snapshot(spec: HubFiles) -> Path | None:
    """The snapshot folder holding every file of `spec` (all from one commit), else None."""
    roots = set()
    for name in spec.files:
        path = cached_file(spec.repo_id, name, spec.revision)
        if path is None:
            return None
        root = path
        for _ in Path(name).parts:
            root = root.parent
        roots.add(root)
    return roots.pop() if len(roots) == 1 else None


# ---- policy -------------------------------------------------------------------------------------------------
RETRY_FIRST_S = 5.0  # after a failure the Hub is asked again no sooner than this, doubling per failure…
RETRY_MAX_S = 300.0  # …up to this
PROBE_TIMEOUT_S = 3.0  # an on-demand probe runs on a request's path: short
_probe: dict = {"reachable": None, "endpoint": "", "checked_at": 0.0, "detail": "", "failures": 0, "retry_at": 0.0}
_probing = threading.Lock()


def probe_hub(timeout: float = 4.0) -> bool:
    """Ask the Hub's endpoint now (any HTTP answer counts as reachable); remembered for download_policy."""
    import urllib.error
    import urllib.request

    endpoint = platform.hub_endpoint()
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint + "/api/whoami-v2", method="HEAD"), timeout=timeout)
        reachable, detail = True, ""
    except urllib.error.HTTPError:
        reachable, detail = True, ""  # it answered (401 without a token): the Hub is there
    except (OSError, ValueError) as exc:
        reachable, detail = False, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    _remember(reachable, endpoint, detail)
    return reachable


def _remember(reachable: bool, endpoint: str, detail: str) -> None:
    failures = 0 if reachable else int(_probe.get("failures") or 0) + 1
    wait = min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** (failures - 1)) if failures else 0.0
    if reachable and _probe.get("reachable") is False:
        log.info("the Hub (%s) answers again: downloads on first use are back on", endpoint)
    elif not reachable:
        log.warning("the Hub (%s) did not answer (%s); asked again by a request that needs weights in %.0f s",
                    endpoint, detail, wait)
    _probe.update(reachable=reachable, endpoint=endpoint, checked_at=time.time(), detail=detail,
                  failures=failures, retry_at=time.monotonic() + wait)


def note_unreachable(exc: BaseException) -> None:
    """A download failed to connect: treat the Hub as down (with the same backoff) until it answers again."""
    _remember(False, platform.hub_endpoint(), f"{type(exc).__name__}: {exc}"[:200])


def _retry_if_due() -> None:
    """On demand: probe again when the backoff has passed and no other thread is probing."""
    if _probe["reachable"] is not False or time.monotonic() < float(_probe.get("retry_at") or 0.0):
        return
    if _probing.acquire(blocking=False):
        try:
            probe_hub(timeout=PROBE_TIMEOUT_S)
        finally:
            _probing.release()


def download_policy(settings, probe: bool = True) -> tuple[bool, str]:
    """(allowed, why not). `probe=False` answers from what is known (for listings that must never wait)."""
    if not getattr(settings, "allow_downloads", True):
        return False, "downloads are off (GATEWAY_ALLOW_DOWNLOADS=0)"
    if platform.hub_offline():
        return False, "the Hub is off (HF_HUB_OFFLINE=1)"
    if probe:
        _retry_if_due()
    if _probe["reachable"] is False:
        wait = max(0.0, float(_probe.get("retry_at") or 0.0) - time.monotonic())
        return False, (f"the Hub ({_probe['endpoint']}) is unreachable right now ({_probe['detail']}); the next "
                       f"request that needs weights asks again" + (f" in {wait:.0f} s" if wait >= 1 else ""))
    return True, ""


def downloads_allowed(settings) -> bool:
    return download_policy(settings)[0]


def hub_unreachable(settings) -> bool:
    """True when downloads would be allowed but the Hub does not answer right now (a temporary state)."""
    allowed, _ = download_policy(settings, probe=False)
    return not allowed and _probe["reachable"] is False and getattr(settings, "allow_downloads", True) \
        and not platform.hub_offline()


# ---- progress to the requesting chat reply ------------------------------------------------------------------
_reporter: contextvars.ContextVar = contextvars.ContextVar("download_reporter", default=None)


@contextlib.contextmanager
def reporting_to(report: Callable[[float, str], None] | None, cancelled: Callable[[], bool] | None = None):
    """Downloads started inside this block report to `report(fraction, text)` and stop when `cancelled()`."""
    token = _reporter.set((report, cancelled))
    try:
        yield
    finally:
        _reporter.reset(token)


@dataclass
class Progress:
    repo_id: str
    files: list[str]
    total_bytes: int
    done_bytes: int = 0
    current: str = ""
    started: float = field(default_factory=time.time)

    def describe(self) -> dict:
        return {"repo": self.repo_id, "file": self.current, "bytes_done": self.done_bytes,
                "bytes_total": self.total_bytes, "files": len(self.files),
                "fraction": round(self.done_bytes / self.total_bytes, 3) if self.total_bytes else None}

    def text(self) -> str:
        return (f"Downloading {self.repo_id}: {self.current} — {_size(self.done_bytes)} of {_size(self.total_bytes)} "
                "(first use only)")


def _size(n: int) -> str:
    return f"{n / 2**30:.2f} GB" if n >= 2**30 else f"{n / 2**20:.1f} MB"


class Downloads:
    """Every download of this process: one per repository at a time, and what is in flight (for /capabilities)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._repo_locks: dict[str, threading.Lock] = {}
        self._active: dict[str, Progress] = {}
        self.completed = 0

    def active(self) -> dict[str, dict]:
        with self._lock:
            return {key: p.describe() for key, p in self._active.items()}

    def in_flight(self, repo_id: str) -> bool:
        with self._lock:
            return any(p.repo_id == repo_id for p in self._active.values())

    @contextlib.contextmanager
    def tracking(self, name: str, what: str):
        """Show a download that is not a Hub download (rembg's, InsightFace's: GitHub releases) as in flight."""
        progress = Progress(name, [what], 0, current=what)
        with self._lock:
            self._active[name] = progress
        try:
            yield progress
        finally:
            with self._lock:
                self._active.pop(name, None)

    def fetch(self, spec: HubFiles) -> Path:
        """The snapshot folder with every file of `spec`, downloading what is missing."""
        with self._lock:
            repo_lock = self._repo_locks.setdefault(spec.key, threading.Lock())
        report, cancelled = _reporter.get() or (None, None)
        if report is not None and repo_lock.locked():
            report(0.0, f"Waiting for the download of {spec.repo_id} another request started")
        with repo_lock:  # a second request for the same model waits here, then finds the files present
            folder = local_snapshot(spec)
            if folder is not None:
                return folder
            return self._download(spec, report, cancelled)

    def _download(self, spec: HubFiles, report, cancelled) -> Path:
        from huggingface_hub import constants, hf_hub_download

        todo = missing_files(spec)
        try:
            sizes = {name: _remote_size(spec, name) for name in todo}
        except Exception as exc:  # noqa: BLE001 - the Hub did not answer the size question: the same typed error
            raise _failed(spec, exc) from exc
        total = sum(sizes.values())
        check_free_disk(Path(constants.HF_HUB_CACHE), total, spec.repo_id)
        progress = Progress(spec.repo_id, todo, total)
        with self._lock:
            self._active[spec.key] = progress
        log.info("downloading %d file(s) of %s (%s): %s", len(todo), spec.repo_id, _size(total), ", ".join(todo))
        started = time.monotonic()
        try:
            for name in todo:
                progress.current = name
                bar = _progress_bar(progress, report, cancelled)
                hf_hub_download(spec.repo_id, name, revision=spec.revision, tqdm_class=bar)
                progress.done_bytes = sum(sizes[n] for n in todo[:todo.index(name) + 1])
        except Cancelled:
            log.info("download of %s cancelled; the partial file stays as .incomplete and never counts as present",
                     spec.repo_id)
            raise
        except Exception as exc:  # noqa: BLE001 - every download failure becomes one typed, explained error
            raise _failed(spec, exc) from exc
        finally:
            with self._lock:
                self._active.pop(spec.key, None)
        folder = local_snapshot(spec)
        if folder is None:
            raise DownloadFailed(f"Downloading {spec.repo_id} finished but files are still missing: "
                                 f"{', '.join(missing_files(spec))}")
        self.completed += 1
        log.info("downloaded %s (%s) in %.1f s", spec.repo_id, _size(total), time.monotonic() - started)
        return folder


DOWNLOADS = Downloads()


def fetch(spec: HubFiles) -> Path:
    return DOWNLOADS.fetch(spec)


def _failed(spec: HubFiles, exc: BaseException) -> DownloadFailed:
    log.warning("download of %s failed: %s: %s", spec.repo_id, type(exc).__name__, exc)
    if _is_connection_failure(exc):
        note_unreachable(exc)
    return DownloadFailed(f"Downloading {spec.repo_id} failed: {type(exc).__name__}: {exc}",
                          suggestions=["Try again in a moment."])


def _is_connection_failure(exc: BaseException) -> bool:
    """The Hub could not be reached (as opposed to a refused or missing file): any connection or timeout error
    in the exception's chain (requests, httpx and the standard library all name theirs so)."""
    seen, visited = exc, set()
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        names = " ".join(c.__name__ for c in type(seen).__mro__)
        if isinstance(seen, (ConnectionError, TimeoutError)) or "Connect" in names or "Timeout" in names:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _remote_size(spec: HubFiles, name: str) -> int:
    from huggingface_hub import hf_hub_download

    info = hf_hub_download(spec.repo_id, name, revision=spec.revision, dry_run=True)
    return int(info.file_size or 0) if info.will_download else 0


def check_free_disk(folder: Path, needed: int, what: str) -> None:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed + DISK_HEADROOM_BYTES > free:
        raise DownloadFailed(
            f"Not enough disk space to download {what}: it needs {_size(needed)} (+{_size(DISK_HEADROOM_BYTES)} "
            f"headroom) and {probe} has {_size(free)} free.",
            suggestions=["Free some disk space or point HF_HOME at a larger disk."])


def _progress_bar(progress: Progress, report, cancelled):
    """A tqdm class for one file: it forwards bytes to `progress`, the chat reply and the log, and stops on cancel."""
    from tqdm.std import tqdm

    base = progress.done_bytes
    last_log = [0.0]

    class Bar(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.update(disable=False, file=_NullFile(), leave=False)
            kwargs.pop("name", None)
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            if cancelled is not None and cancelled():
                raise Cancelled("Download cancelled; nothing half-downloaded is used.")
            result = super().update(n)
            progress.done_bytes = base + int(self.n)
            if report is not None:
                report(progress.done_bytes / progress.total_bytes if progress.total_bytes else 0.0, progress.text())
            now = time.monotonic()
            if now - last_log[0] >= LOG_EVERY_S:
                last_log[0] = now
                log.info("%s", progress.text())
            return result

    return Bar


class _NullFile:
    def write(self, _text):
        return 0

    def flush(self):
        pass
