"""Model runs on a ZeroGPU Space: inside `spaces.GPU`, with a time request per capability.

On ZeroGPU a GPU is attached only while a function decorated with `spaces.GPU` runs; the call happens in a
forked worker, its arguments and result cross a pipe (so they must pickle), and the decorated functions must
exist before `launch()`. `ZeroGpuExecutor` is the local executor with one such function, made when the app is
built: model runs go through it (text replies and Pillow edits never take GPU time), asking for the duration of
the capability — longer when its model is not loaded yet, since a first load takes longer than a warm run.
The request crosses without its progress callback and cancel event (neither pickles): the reply says it is
waiting for ZeroGPU and shows the result when it returns. `preload` loads the ready neural backends in the main
process at start-up, which is where ZeroGPU wants models placed on `cuda` (it moves them to the real GPU in
each worker); `torch.compile` stays off there (not supported). Off ZeroGPU the `spaces` decorator returns the
function unchanged, so this executor then behaves exactly like the local one.
"""

from __future__ import annotations

import dataclasses
import logging

from models.contracts import CapabilityRequest, CapabilityResult
from pipeline.executors import LocalExecutor

log = logging.getLogger(__name__)
# Seconds of GPU time asked for: (first use, model not loaded yet) and (model already loaded).
DURATIONS = {
    "image_generation": (120, 45),
    "style_transfer": (120, 45),  # diffusion styles share the text-to-image model
    "object_removal": (60, 20),
    "upscale": (60, 30),
    "background_removal": (60, 20),
    "face_swap": (60, 20),
}
DEFAULT_DURATION = (60, 30)


class ZeroGpuExecutor(LocalExecutor):
    name = "zerogpu"

    def __init__(self, registry, model_slots: int = 1, gpu_decorator=None):
        super().__init__(registry, model_slots)
        if gpu_decorator is None:
            import spaces

            gpu_decorator = spaces.GPU
        # Decorated once, before launch: ZeroGPU registers its GPU functions at start-up.
        self._on_gpu = gpu_decorator(duration=self.duration)(self._run_on_gpu)

    def duration(self, capability: str, backend_name: str, request: CapabilityRequest) -> int:
        cold, warm = DURATIONS.get(capability, DEFAULT_DURATION)
        backend = self._backend(capability, backend_name)
        return warm if backend.cache_key() in self.registry.cache.keys() else cold

    def _backend(self, capability: str, backend_name: str):
        return next(b for b in self.registry.get(capability).backends if b.name == backend_name)

    def _run_on_gpu(self, capability: str, backend_name: str, request: CapabilityRequest) -> CapabilityResult:
        return self.registry.run(request, self._backend(capability, backend_name))

    def run(self, request: CapabilityRequest) -> CapabilityResult:
        backend = self.registry.ready_backend(request.capability)
        if not backend.uses_model:
            result = self.registry.run(request, backend)
        else:
            with self.slots.acquire(request):
                request.report(0.0, "Waiting for a ZeroGPU GPU…")
                portable = dataclasses.replace(request, progress=None, cancel_event=None)
                result = self._on_gpu(request.capability, backend.name, portable)
        result.metadata.setdefault("executor", self.name)
        return result


def preload(registry, device: str = "cuda") -> list[str]:
    """Load every ready neural backend (Hub weights) into the cache now, in the main process; returns their keys."""
    loaded = []
    for capability in registry:
        for backend in capability.backends:
            if not backend.uses_model or backend.embedded or not backend.weight_files(device):
                continue
            if not backend.status().ready:
                continue
            key = backend.cache_key()
            if key in registry.cache.keys():
                continue
            try:
                with registry.cache.use(key, lambda b=backend: b.load(device), backend.estimated_bytes):
                    loaded.append(key)
            except Exception as exc:  # noqa: BLE001 - a model that fails here loads (and explains) on first use
                log.warning("ZeroGPU preload of %s failed: %s: %s", key, type(exc).__name__, exc)
            break  # the first ready neural backend of each capability is the one that serves it
    return loaded
