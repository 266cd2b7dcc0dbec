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


def test_exiting_while_the_warm_up_runs_is_clean():
    """An app stopped (SIGTERM → normal exit) while the warm-up is inside native code must exit 0: the thread
    is told to stop and joined at exit. Torn down mid-call, a daemon thread coming back from OpenCV, onnxruntime
    or ncnn aborts the process ("terminate called without an active exception", status -6: seen in
    tests/test_deploy.py). Here the embedded backend's load is a few seconds of onnxruntime."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import time, numpy as np, cv2\n"
            "from models.cache import ModelCache\n"
            "from models.contracts import READY, Backend, BackendStatus, Capability\n"
            "from models.registry import Registry\n"
            "from models.warmup import start_background_warmup\n"
            "class Slow(Backend):\n"
            "    name, capability, embedded = 'slow', 'upscale', True\n"
            "    def status(self):\n"
            "        return BackendStatus(READY)\n"
            "    def load(self, device):\n"
            "        from models.style_transfer import engine\n"
            "        painter = engine.load_engine('cpu', threads=1)\n"
            "        started.set()\n"
            "        until = time.monotonic() + 8\n"  # native calls for seconds, however fast the machine
            "        while time.monotonic() < until:\n"
            "            engine.stylize(painter, np.full((1024, 1024, 3), 128, np.uint8), 3, 1.0, False)\n"
            "        return 'slow'\n"
            "class SlowTeardown:\n"  # a big app's module teardown takes seconds: the thread comes back meanwhile
            "    def __del__(self):\n"
            "        import time as clock; clock.sleep(6)\n"
            "teardown = SlowTeardown()\n"
            "registry = Registry(ModelCache(2**30))\n"
            "registry.add(Capability(name='upscale', description='d', backends=[Slow()]))\n"
            "started = __import__('threading').Event()\n"
            "thread = start_background_warmup(registry)\n"
            "started.wait(120); time.sleep(0.5)\n"
            "print('alive' if thread.is_alive() else 'finished', flush=True)\n")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=300,
                         env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert out.stdout.strip() == "alive"  # the exit really happened during the native call
    assert out.returncode == 0 and "terminate called" not in out.stderr, (out.returncode, out.stderr[-2000:])
