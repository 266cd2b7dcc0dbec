"""Start-up warm-up (models/warmup.py): the embedded backends are loaded into the shared model cache and run
once in a background thread, a failing backend does not stop the others, and neural backends with downloaded
weights are left lazy."""

import time

from models.cache import ModelCache
from models.contracts import READY, Backend, BackendStatus, Capability
from models.registry import Registry, build_registry
from models.warmup import start_background_warmup, warm_embedded


def test_embedded_backends_are_loaded_and_exercised_in_the_background(settings):
    registry = build_registry(settings, ModelCache(2**32), device="cpu")
    wanted = ["background_removal", "style_transfer", "upscale", "object_removal"]
    spent = warm_embedded(registry, capabilities=wanted)
    assert set(spent) == set(wanted)
    keys = set(registry.cache.keys())
    for name in wanted:
        backend = registry.ready_backend(name)
        assert backend.embedded and backend.cache_key() in keys
    # The first real request now finds its model loaded: no new cache entry, no load time.
    before = registry.cache.stats()
    from models.warmup import _warm_request

    registry.run(_warm_request("upscale", "upscale it 4x", {"scale": 4}))
    assert registry.cache.stats().get("misses") == before.get("misses")


class _Exploding(Backend):
    name, capability, embedded = "exploding", "upscale", True

    def status(self):
        return BackendStatus(READY)

    def load(self, device):
        raise RuntimeError("broken wheel")


class _Neural(Backend):
    name, capability, embedded = "big_neural", "style_transfer", False
    loads = 0

    def status(self):
        return BackendStatus(READY)

    def load(self, device):
        _Neural.loads += 1
        return object()


def test_a_broken_backend_is_skipped_and_downloaded_models_stay_lazy(settings):
    registry = Registry(ModelCache(2**30))
    registry.add(Capability(name="upscale", description="d", backends=[_Exploding(settings)]))
    registry.add(Capability(name="style_transfer", description="d", backends=[_Neural(settings)]))
    thread = start_background_warmup(registry)
    thread.join(timeout=60)
    assert not thread.is_alive() and thread.daemon
    assert _Neural.loads == 0 and registry.cache.keys() == []
    assert set(warm_embedded(registry)) == {"upscale"}  # tried, failed quietly, timed


def test_importing_warmup_is_light():
    import subprocess
    import sys

    code = ("import sys, models.warmup; heavy = {'cv2', 'onnxruntime', 'ncnn', 'dlib', 'torch', 'numpy'} & set(sys.modules);"
            "print(sorted(heavy))")
    started = time.perf_counter()
    root = __import__("pathlib").Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "[]", out.stdout
    assert time.perf_counter() - started < 30
