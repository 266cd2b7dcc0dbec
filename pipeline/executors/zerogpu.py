"""Model runs on a ZeroGPU Space: inside `spaces.GPU`, billed to the caller, asking for measured GPU time.

On ZeroGPU a GPU is attached only while a function decorated with `spaces.GPU` runs; the call happens in a
forked worker, its arguments and result cross a pipe (so they must pickle), and the decorated functions must
exist before `launch()`. `ZeroGpuExecutor` is the local executor with one such function, made when the app is
built: model runs go through it (text replies and Pillow edits never take GPU time).

- **Whose quota.** `spaces.GPU` bills the `x-ip-token` header of the Gradio request it finds in the calling
  context (`spaces.utils.gradio_request_var()`, i.e. Gradio's `LocalContext.request`). A browser chat runs on a
  plain thread that has no Gradio request, so the executor presents one there, carrying the caller's token from
  the request's credentials (`x_ip_token`, which the UI copies from the chat message's request): signed-in
  visitors then spend their own quota, as API callers do. A request already in the context is left alone.
- **How long.** The duration asked for is measured, not guessed: the GPU function times each run and the
  executor keeps the recent seconds per unit of work (images × megapixels) per capability; before the first
  measurement it uses a prior per capability (`PRIOR_SECONDS_PER_UNIT`). ZeroGPU admits a call only when the
  caller has that much quota left, so asking for what runs really take lets short quotas go further.
- **Loading outside the GPU window.** A model that is not loaded yet (a first-use download, or a backend that
  was not ready at start-up) is downloaded and loaded in the main process before the GPU call, where ZeroGPU
  expects models placed on `cuda`; `preload` does the same for every ready neural backend at start-up.

The request crosses without its progress callback and cancel event (neither pickles): the reply says it is
waiting for ZeroGPU and shows the result when it returns. `torch.compile` stays off there (not supported). Off
ZeroGPU the `spaces` decorator returns the function unchanged, so this executor then behaves like the local one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
import math
import threading
import time
from collections import deque

from models.contracts import CapabilityRequest, CapabilityResult
from models.hub import reporting_to
from pipeline.executors import LocalExecutor

log = logging.getLogger(__name__)

# GPU seconds per unit of work (one image of up to 1 megapixel) before any run was measured: published A100
# figures (SDXL-Turbo 512² ~0.2 s, Real-ESRGAN/LaMa well under a second) plus moving the weights into a fresh
# ZeroGPU worker (seconds for a multi-GB model), rounded up generously. Measured runs replace them.
PRIOR_SECONDS_PER_UNIT = {
    "image_generation": 20.0,
    "style_transfer": 20.0,  # diffusion styles share the text-to-image model
    "upscale": 8.0,  # per megapixel of input at 2x; a 4x run counts 4 units (work_units)
    "object_removal": 10.0,
    "background_removal": 10.0,
    "face_swap": 15.0,
}
DEFAULT_SECONDS_PER_UNIT = 20.0
MARGIN = 1.5  # asked = recent worst × units × MARGIN + SLACK_S
SLACK_S = 5.0
MIN_DURATION_S, MAX_DURATION_S = 10, 120
RECENT_RUNS = 5
IP_TOKEN_HEADER = "x-ip-token"


def work_units(request: CapabilityRequest) -> float:
    """How much GPU work a request is: images to make × megapixels (at least 1 each); upscale counts its factor."""
    params = request.params or {}
    count = max(1, int(params.get("count") or 1))
    if request.images:
        pixels = max(i.image.width * i.image.height for i in request.images)
    else:
        pixels = int(params.get("width") or 1024) * int(params.get("height") or 1024)
    units = count * max(1.0, pixels / 2**20)
    if request.capability == "upscale":
        units *= max(1.0, (float(params.get("scale") or 4) / 2) ** 2)
    return units


class GpuTimes:
    """The recent GPU seconds per unit of work of each capability, and the duration to ask for from them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._recent: dict[str, deque] = {}

    def record(self, capability: str, units: float, seconds: float) -> None:
        with self._lock:
            self._recent.setdefault(capability, deque(maxlen=RECENT_RUNS)).append(seconds / max(units, 1.0))

    def seconds_per_unit(self, capability: str) -> tuple[float, bool]:
        """(seconds per unit, measured?): the worst of the recent runs, else the prior."""
        with self._lock:
            recent = list(self._recent.get(capability, ()))
        if recent:
            return max(recent), True
        return PRIOR_SECONDS_PER_UNIT.get(capability, DEFAULT_SECONDS_PER_UNIT), False

    def duration(self, capability: str, units: float) -> int:
        per_unit, _ = self.seconds_per_unit(capability)
        asked = math.ceil(per_unit * max(units, 1.0) * MARGIN + SLACK_S)
        return int(min(MAX_DURATION_S, max(MIN_DURATION_S, asked)))

    def describe(self) -> dict:
        with self._lock:
            return {name: [round(s, 2) for s in runs] for name, runs in self._recent.items()}


class _Headers:
    """The part of a request's headers `spaces` reads: `get(name)` and an instance `__dict__`."""

    def __init__(self, values: dict):
        self.values = {k.lower(): v for k, v in values.items()}

    def get(self, name: str, default=None):
        return self.values.get(name.lower(), default)


class CallerRequest:
    """Stands in for the Gradio request of the message that started a run on a plain thread (a browser chat)."""

    def __init__(self, ip_token: str):
        self.headers = _Headers({IP_TOKEN_HEADER: ip_token})
        self.username = None
        self.session_hash = None


@contextlib.contextmanager
def presenting_caller(request_var, credentials: dict | None):
    """While the block runs, `request_var` holds a request carrying the caller's x-ip-token, unless the context
    already has a request with one (an API call handled on Gradio's own thread)."""
    token = (credentials or {}).get("x_ip_token")
    current = request_var.get(None)
    headers = getattr(current, "headers", None)
    if not token or (headers is not None and hasattr(headers, "get") and headers.get(IP_TOKEN_HEADER)):
        yield
        return
    reset = request_var.set(CallerRequest(token))
    try:
        yield
    finally:
        request_var.reset(reset)


class ZeroGpuExecutor(LocalExecutor):
    name = "zerogpu"

    def __init__(self, registry, model_slots: int = 1, spaces_module=None):
        super().__init__(registry, model_slots)
        spaces = spaces_module or importlib.import_module("spaces")
        utils = getattr(spaces, "utils", None) or importlib.import_module(f"{spaces.__name__}.utils")
        self._request_var = utils.gradio_request_var()  # Gradio's LocalContext.request, which spaces.GPU reads
        self.times = GpuTimes()
        # Decorated once, before launch: ZeroGPU registers its GPU functions at start-up.
        self._on_gpu = spaces.GPU(duration=self.duration)(self._run_on_gpu)

    def duration(self, capability: str, backend_name: str, request: CapabilityRequest) -> int:
        return self.times.duration(capability, work_units(request))

    def _backend(self, capability: str, backend_name: str):
        return next(b for b in self.registry.get(capability).backends if b.name == backend_name)

    def _run_on_gpu(self, capability: str, backend_name: str, request: CapabilityRequest) -> CapabilityResult:
        started = time.perf_counter()
        backend = self._backend(capability, backend_name)
        loaded = backend.cache_key() in self.registry.cache.keys()  # False: this worker loads it inside the window
        result = self.registry.run(request, backend)
        result.metadata.update(gpu_seconds=round(time.perf_counter() - started, 3), gpu_model_was_loaded=loaded)
        return result

    def _load_here(self, backend, request: CapabilityRequest) -> None:
        """Download and load the backend's model in this (the main) process, outside the GPU window."""
        key = backend.cache_key()
        if key in self.registry.cache.keys():
            return
        request.report(0.0, "Loading the model…")
        with reporting_to(request.report, request.cancelled):
            with self.registry.cache.use(key, lambda: backend.load(self.registry.device), backend.estimated_bytes):
                pass

    def _execute(self, request: CapabilityRequest) -> CapabilityResult:
        backend = self.registry.ready_backend(request.capability)
        if not backend.uses_model:
            return self.registry.run(request, backend)
        with self.slots.acquire(request):
            self._load_here(backend, request)
            units = work_units(request)
            asked = self.times.duration(request.capability, units)
            request.report(0.0, "Waiting for a ZeroGPU GPU…")
            portable = dataclasses.replace(request, progress=None, cancel_event=None)
            with presenting_caller(self._request_var, request.credentials):
                result = self._on_gpu(request.capability, backend.name, portable)
        if result.metadata.get("gpu_seconds") is not None:
            self.times.record(request.capability, units, float(result.metadata["gpu_seconds"]))
        result.metadata["gpu_duration_requested_s"] = asked
        return result

    def describe(self) -> dict:
        return {**super().describe(), "gpu_seconds_per_unit": self.times.describe()}


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
