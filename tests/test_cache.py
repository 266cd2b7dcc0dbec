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


def test_a_model_bigger_than_the_budget_loads_once_for_three_generations():
    """SDXL-Turbo in half precision (~7 GB) under the old static 6 GiB budget: loaded once, then only hits."""
    cache = ModelCache(6 * 2**30)
    loads = []

    def load_sdxl():
        loads.append("sdxl")
        return Model("sdxl", 7_000_000_000)

    for _ in range(3):
        assert cache.run("image_generation/sdxl-turbo", load_sdxl, lambda model: model.name) == "sdxl"
    assert loads == ["sdxl"]
    stats = cache.stats()
    assert stats["misses"] == 1 and stats["hits"] == 2 and stats["evictions"] == 0
    assert stats["used_bytes"] > stats["budget_bytes"]  # over budget, and that is fine while nothing else needs room


def test_the_oversized_model_goes_when_another_model_needs_the_room():
    cache = ModelCache(1000)
    big = Model("big", 1500)
    with cache.use("big", lambda: big):
        pass
    assert cache.keys() == ["big"] and not big.released
    with cache.use("small", lambda: Model("small", 100)):
        pass
    assert cache.keys() == ["small"] and big.released


def test_budget_may_be_resolved_lazily_from_the_device():
    calls = []
    cache = ModelCache(lambda: calls.append(1) or 500)
    assert not calls  # nothing asked at construction (asking the GPU imports torch)
    with cache.use("a", lambda: Model("a", 400)):
        pass
    with cache.use("b", lambda: Model("b", 400)):
        pass
    assert cache.keys() == ["b"] and calls == [1] and cache.stats()["budget_bytes"] == 500


def test_auto_budget_leaves_headroom_on_a_gpu_and_uses_half_the_ram_on_cpu():
    from models.devices import GIB, auto_budget_bytes, cache_budget_bytes

    t4 = 15 * GIB
    assert auto_budget_bytes("cuda", t4) == t4 - int(t4 * 0.15)  # 12.75 GiB: SDXL-Turbo (~7 GB) fits
    assert auto_budget_bytes("cuda", 8 * GIB) == 8 * GIB - int(1.5 * GIB)  # at least 1.5 GiB headroom
    assert auto_budget_bytes("cpu", 16 * GIB) == 8 * GIB
    assert cache_budget_bytes("2.5", "cuda") == int(2.5 * GIB)
    with pytest.raises(ValueError, match="GATEWAY_CACHE_BUDGET_GB"):
        cache_budget_bytes("lots", "cpu")


def test_missing_modules_names_only_what_is_absent_even_for_imported_modules_without_a_spec():
    """cv2 sets `__spec__` to None once imported, so `find_spec("cv2")` raises ValueError: the start-up report
    (every backend's status) crashed on it in a running app."""
    import sys
    import types

    from models.contracts import MISSING, missing_modules

    odd = types.ModuleType("gateway_test_odd_module")
    odd.__spec__ = None
    sys.modules[odd.__name__] = odd
    try:
        assert missing_modules(odd.__name__, "json") is None
        status = missing_modules(odd.__name__, "gateway_test_not_installed")
        assert status.state == MISSING and "gateway_test_not_installed" in status.reason
        assert odd.__name__ not in status.reason
    finally:
        del sys.modules[odd.__name__]
