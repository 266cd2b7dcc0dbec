"""A byte-budgeted LRU cache of loaded models, with pinning and one out-of-memory retry.

`with cache.use(key, loader, size_bytes) as model:` returns the cached model or calls `loader()` on a miss,
and pins the entry for the duration of the block so eviction never pulls a model out from under a running
request. When a model needs room, least recently used unpinned entries are evicted (their GPU memory freed);
a model left alone is never evicted just for being over budget, so a model larger than the budget stays
loaded while nothing else needs the room and its second use is never a reload. The budget may be given
as a function (resolved on first need, e.g. from the GPU's memory). A loader that raises caches nothing. `cache.run(key, loader, fn, size_bytes)` also handles out-of-memory: on
the first OOM (while loading or running) it evicts every unpinned entry, frees the accelerator's memory and
tries once more; a second OOM raises the typed `OutOfMemory`. Learned from InvokeAI's model cache.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

from core.errors import ModelLoadError, OutOfMemory

log = logging.getLogger(__name__)


@dataclass
class _Entry:
    model: object
    size: int
    pins: int = 0
    loaded_at: float = 0.0
    load_seconds: float = 0.0
    hits: int = 0


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's CUDA/MPS OOM, onnxruntime's allocation failures and Python's MemoryError."""
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    if name in {"OutOfMemoryError", "OutOfMemory"} and not isinstance(exc, OutOfMemory):
        return True
    text = str(exc).lower()
    return "out of memory" in text or "failed to allocate memory" in text


def free_accelerator_memory() -> None:
    gc.collect()
    torch = sys.modules.get("torch")  # only if somebody already paid for importing it
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


class ModelCache:
    def __init__(self, budget_bytes):
        """`budget_bytes`: an int, or a function returning one (called once, when first needed)."""
        self._budget = budget_bytes if callable(budget_bytes) else int(budget_bytes)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.RLock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.hits = self.misses = self.evictions = self.failed_loads = self.oom_retries = 0

    @property
    def budget_known(self) -> bool:
        """False until a lazily given budget was resolved (resolving it may import torch)."""
        return not callable(self._budget)

    @property
    def budget_bytes(self) -> int:
        if callable(self._budget):
            self._budget = int(self._budget())
        return self._budget

    # ---- core API -------------------------------------------------------------------------------------
    @contextmanager
    def use(self, key: str, loader, size_bytes: int = 0):
        entry = self._acquire(key, loader, size_bytes)
        try:
            yield entry.model
        finally:
            with self._lock:
                entry.pins -= 1
                self._evict_over_budget()

    def run(self, key: str, loader, fn, size_bytes: int = 0):
        """`fn(model)` with the model from `use`, retrying once after an out-of-memory error."""
        for attempt in (1, 2):
            try:
                with self.use(key, loader, size_bytes) as model:
                    return fn(model)
            except OutOfMemory:
                raise
            except BaseException as exc:  # noqa: BLE001 - re-raised unless it is an OOM
                if not is_out_of_memory(exc):
                    raise
                if attempt == 2:
                    raise OutOfMemory(
                        "Not enough memory to run this model even after unloading the others.",
                        suggestions=["Try a smaller image or size.", "Ask for fewer images at once."]) from exc
                log.warning("out of memory in %s; evicting unpinned models and retrying once", key)
                self.oom_retries += 1
                self.clear()
                free_accelerator_memory()

    def _acquire(self, key: str, loader, size_bytes: int) -> _Entry:
        with self._lock:
            entry = self._hit(key)
            if entry is not None:
                return entry
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        # Load outside the global lock so other models stay usable; the per-key lock stops double loads.
        with key_lock:
            with self._lock:
                entry = self._hit(key)
                if entry is not None:
                    return entry
                self.misses += 1
                self._make_room(size_bytes)
            started = time.perf_counter()
            try:
                model = loader()
            except BaseException as exc:
                with self._lock:
                    self.failed_loads += 1
                if is_out_of_memory(exc) or isinstance(exc, ModelLoadError):
                    raise
                from core.errors import GatewayError

                if isinstance(exc, GatewayError):
                    raise
                raise ModelLoadError(f"Loading {key} failed: {exc}") from exc
            entry = _Entry(model=model, size=int(size_bytes or _measure(model)), pins=1,
                           loaded_at=time.time(), load_seconds=time.perf_counter() - started)
            with self._lock:
                self._entries[key] = entry
                self._entries.move_to_end(key)
            return entry

    def _hit(self, key: str) -> _Entry | None:
        """The pinned entry when cached (caller holds the lock)."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.pins += 1
            entry.hits += 1
            self.hits += 1
            self._entries.move_to_end(key)
        return entry

    # ---- eviction ---------------------------------------------------------------------------------------
    def _used(self) -> int:
        return sum(e.size for e in self._entries.values())

    def _make_room(self, incoming: int) -> None:
        for key in [k for k, e in self._entries.items() if e.pins == 0]:
            if self._used() + incoming <= self.budget_bytes:
                break
            self._evict(key)

    def _evict_over_budget(self) -> None:
        """After a run: back under the budget, but a model left alone stays, however big (nothing needs its room)."""
        for key in [k for k, e in self._entries.items() if e.pins == 0]:
            if self._used() <= self.budget_bytes or len(self._entries) <= 1:
                break
            self._evict(key)

    def _evict(self, key: str) -> None:
        entry = self._entries.pop(key)
        self.evictions += 1
        log.info("evicted %s (%.1f MB)", key, entry.size / 2**20)
        release = getattr(entry.model, "release", None)
        if callable(release):
            release()
        del entry

    def clear(self) -> int:
        """Evict every unpinned entry (pinned ones stay); returns how many went."""
        with self._lock:
            victims = [k for k, e in self._entries.items() if e.pins == 0]
            for key in victims:
                self._evict(key)
        free_accelerator_memory()
        return len(victims)

    def evict(self, key: str) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.pins:
                return False
            self._evict(key)
            return True

    # ---- introspection ------------------------------------------------------------------------------------
    def keys(self) -> list[str]:
        """Least recently used first."""
        with self._lock:
            return list(self._entries)

    def stats(self) -> dict:
        with self._lock:
            return {
                "budget_bytes": self.budget_bytes, "used_bytes": self._used(), "entries": len(self._entries),
                "hits": self.hits, "misses": self.misses, "evictions": self.evictions,
                "failed_loads": self.failed_loads, "oom_retries": self.oom_retries,
                "models": [{"key": k, "bytes": e.size, "pinned": e.pins > 0, "hits": e.hits,
                            "load_seconds": round(e.load_seconds, 3)} for k, e in self._entries.items()],
            }


def _measure(model) -> int:
    """Best-effort resident size of a loaded model (torch modules and pipelines report their parameters)."""
    size = getattr(model, "nbytes", None)
    if isinstance(size, int):
        return size
    total = 0
    for attr in ("parameters", "buffers"):
        items = getattr(model, attr, None)
        if callable(items):
            try:
                total += sum(p.numel() * p.element_size() for p in items())
            except Exception:  # noqa: BLE001 - an object with an unrelated parameters() method
                return 0
    return total


def model_cache_for(settings) -> ModelCache:
    """The model cache GATEWAY_CACHE_BUDGET_GB asks for (GiB, or `auto`: sized from the device's memory when
    first needed, so building it imports no torch). The app, a worker, a Ray replica and the scripts share it."""
    from models.devices import cache_budget_bytes, resolve_device

    budget = settings.cache_budget_gb
    if str(budget).strip().lower() in ("", "auto"):
        return ModelCache(lambda: cache_budget_bytes(budget, resolve_device(settings.device)))
    return ModelCache(cache_budget_bytes(budget, settings.device))
