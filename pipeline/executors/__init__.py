"""Where a capability run executes: the one seam between the pipeline and the capability backends.

The pipeline builds a `CapabilityRequest` (capability, parameters, seed, input images, mask) and hands it to
an executor, which returns the `CapabilityResult`; everything stateful (store, references, recipes, safety,
owners) stays in the pipeline. `LocalExecutor` runs the first ready backend in this process through the model
cache; runs of backends that use a model pass through `ModelSlots` (`GATEWAY_CONCURRENCY_LIMIT` at a time) and
execute on `ModelWorkers` threads at a lower CPU priority (`GATEWAY_MODEL_NICE`), while model-free work (text
answers, Pillow edits) runs at once, in the request's own thread. Every result's metadata names the executor
that ran it. Other executors (ZeroGPU, Ray Serve, remote gateway workers) plug in behind `build_executor`;
requests travel in one wire format (`codec.py`). The seam enforces itself: `Executor.run` fixes the seed
(`seed.py`) before any executor sees the request and names the executor in the result's metadata; an executor
implements only `_execute`, and a subclass that overrides `run` is refused when its class is defined.
"""

from __future__ import annotations

from models.contracts import CapabilityRequest, CapabilityResult
from pipeline.executors.seed import resolve_seed
from pipeline.executors.slots import ModelSlots
from pipeline.executors.workers import ModelWorkers


class Executor:
    """Runs one capability request somewhere and returns its result (metadata["executor"] names where).

    Subclasses implement `_execute(request)`; `run` is the same for all of them and cannot be overridden."""

    name = "base"
    registry = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "run" in cls.__dict__:
            raise TypeError(f"{cls.__name__} overrides Executor.run: implement _execute(request) instead (run fixes "
                            "the seed and names the executor for every executor)")

    def run(self, request: CapabilityRequest) -> CapabilityResult:
        request = resolve_seed(request, self.registry.get(request.capability))
        result = self._execute(request)
        result.metadata.setdefault("executor", self.name)  # a remote executor may name its worker first
        return result

    def _execute(self, request: CapabilityRequest) -> CapabilityResult:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"executor": self.name}


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, registry, model_slots: int = 1, model_nice: int = 0, max_waiting: int | None = None,
                 time_limit_s: float = 0.0):
        self.registry = registry
        self.slots = ModelSlots(model_slots, max_waiting, time_limit_s)
        self.workers = ModelWorkers(self.slots.slots, model_nice) if model_nice > 0 else None

    def _execute(self, request: CapabilityRequest) -> CapabilityResult:
        backend = self.registry.ready_backend(request.capability)
        if not backend.uses_model:
            return self.registry.run(request, backend)
        with self.slots.acquire(request):
            if self.workers is None:
                return self.registry.run(request, backend)
            return self.workers.run(self.registry.run, request, backend)

    def describe(self) -> dict:
        return {"executor": self.name, "model_slots": self.slots.slots, "running": self.slots.running(),
                "waiting": self.slots.waiting()}


def build_executor(settings, registry) -> Executor:
    """The executor GATEWAY_EXECUTOR names: `local` (on a ZeroGPU Space the ZeroGPU one, zerogpu.py), `ray`
    (ray_executor.py) or `remote` (remote.py, which falls back on the local executor when no worker answers)."""
    kind = (getattr(settings, "executor", "local") or "local").strip().lower()
    if kind == "ray":
        from pipeline.executors.ray_executor import RayExecutor

        return RayExecutor(settings, registry)
    if kind not in ("local", "remote"):
        raise ValueError(f"GATEWAY_EXECUTOR={kind!r}: use local, ray or remote")
    from core.platform import on_zerogpu

    if on_zerogpu():  # GPU work must run inside spaces.GPU functions there (pipeline/executors/zerogpu.py)
        from pipeline.executors.zerogpu import ZeroGpuExecutor

        local = ZeroGpuExecutor(registry, model_slots=settings.concurrency_limit)
        local.slots.max_waiting = settings.model_queue_max  # runs happen in ZeroGPU's workers: no nice there
        local.slots.time_limit_s = settings.model_time_limit_s
    else:
        local = LocalExecutor(registry, model_slots=settings.concurrency_limit, model_nice=settings.model_nice,
                              max_waiting=settings.model_queue_max, time_limit_s=settings.model_time_limit_s)
    if kind == "remote":
        from pipeline.executors.remote import RemoteExecutor

        return RemoteExecutor(settings, registry, local=local)
    return local
