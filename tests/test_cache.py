"""Model cache: LRU order, byte budget, pinning, failed loads, the out-of-memory retry and stats."""

import threading

import pytest

from core.errors import ModelLoadError, OutOfMemory
from models.cache import ModelCache


class Model:
    def __init__(self, name, size):
        self.name, self.nbytes, self.released = name, size, False

    def release(self):
        self.released = True


def test_hit_does_not_reload_and_lru_order_follows_use():
    cache = ModelCache(1000)
    loads = []

    def loader(name):
        loads.append(name)
        return Model(name, 100)

    for name in ("a", "b", "c", "a"):
        with cache.use(name, lambda n=name: loader(n)) as model:
            assert model.name == name
    assert loads == ["a", "b", "c"]
    assert cache.keys() == ["b", "c", "a"]  # least recently used first
    assert cache.stats()["hits"] == 1 and cache.stats()["misses"] == 3


def test_budget_evicts_least_recently_used_and_releases_it():
    cache = ModelCache(250)
    models = {}
    for name in ("a", "b", "c"):
        with cache.use(name, lambda n=name: models.setdefault(n, Model(n, 100))):
            pass
    assert cache.keys() == ["b", "c"]
    assert models["a"].released and not models["b"].released
    assert cache.stats()["used_bytes"] == 200 and cache.stats()["evictions"] == 1


def test_pinned_entry_is_never_evicted_while_in_use():
    cache = ModelCache(150)
    with cache.use("big", lambda: Model("big", 100)) as big:
        with cache.use("other", lambda: Model("other", 100)):
            assert cache.keys() == ["big", "other"]  # over budget, but both are pinned
        # "other" was unpinned first: it goes, although "big" is older
        assert cache.keys() == ["big"] and not big.released
    assert cache.stats()["used_bytes"] <= 150


def test_failed_load_caches_nothing_and_is_typed():
    cache = ModelCache(1000)

    def broken():
        raise RuntimeError("weights are corrupt")

    with pytest.raises(ModelLoadError, match="weights are corrupt"):
        with cache.use("x", broken):
            pass
    assert cache.keys() == [] and cache.stats()["failed_loads"] == 1
    with cache.use("x", lambda: Model("x", 1)) as model:  # a later good load works
        assert model.name == "x"


def test_oom_evicts_unpinned_and_retries_once():
    cache = ModelCache(10_000)
    with cache.use("idle", lambda: Model("idle", 100)):
        pass
    calls = []

    def run(model):
        calls.append(model.name)
        if len(calls) == 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return "ok"

    assert cache.run("work", lambda: Model("work", 100), run) == "ok"
    assert calls == ["work", "work"]
    assert "idle" not in cache.keys()  # evicted to make room
    assert cache.stats()["oom_retries"] == 1


def test_second_oom_raises_typed_error():
    cache = ModelCache(10_000)

    def always_oom(model):
        raise MemoryError()

    with pytest.raises(OutOfMemory):
        cache.run("work", lambda: Model("work", 1), always_oom)
    assert cache.stats()["oom_retries"] == 1


def test_concurrent_misses_load_once():
    cache = ModelCache(10_000)
    loads = []
    gate = threading.Barrier(4)

    def slow_loader():
        loads.append(1)
        return Model("m", 10)

    def worker():
        gate.wait()
        with cache.use("m", slow_loader):
            pass

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1


def test_stats_lists_models():
    cache = ModelCache(10_000)
    with cache.use("m", lambda: Model("m", 42)):
        stats = cache.stats()
        assert stats["models"][0]["key"] == "m" and stats["models"][0]["pinned"]
        assert stats["models"][0]["bytes"] == 42
