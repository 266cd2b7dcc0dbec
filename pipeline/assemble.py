"""The one place that builds the gateway's parts from its settings, for every entry point.

`assemble(settings, role)` builds, in order, the model cache, the registry of capabilities and — for the roles that
need them — the executor, the store (with the prompt templates and the start-up repair of interrupted messages),
the router and the pipeline. `app.py` adds the UI on top of a `front`; a remote worker (`GATEWAY_ROLE=worker`)
gets only the registry and a local executor; `python -m pipeline.evaluate` and the router bench ask for a
`router`; the benches build a `front` on a data folder of their own. Heavy libraries load later, in the backends.
`describe` is what the server can do (the `/capabilities` answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROLES = ("front", "worker", "router")


@dataclass
class Parts:
    settings: Any
    cache: Any
    registry: Any
    executor: Any = None
    router: Any = None
    store: Any = None
    pipeline: Any = None


def assemble(settings, role: str = "front", cache=None) -> Parts:
    """The parts `role` needs: `front` (everything), `worker` (registry and local executor, nothing stored) or
    `router` (registry and router, for evaluating the router)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    from models.cache import model_cache_for
    from models.registry import build_registry

    cache = cache if cache is not None else model_cache_for(settings)
    registry = build_registry(settings, cache, device=settings.device)
    parts = Parts(settings, cache, registry)
    if role == "worker":
        from pipeline.executors import build_executor

        # The local executor of this platform: on a ZeroGPU Space model runs go through spaces.GPU there.
        parts.executor = build_executor(settings.replace(executor="local"), registry)
        return parts
    from pipeline.understand.router import Router

    parts.router = Router(settings, registry)
    if role == "router":
        return parts
    from pipeline.executors import build_executor
    from pipeline.run.process import Pipeline
    from pipeline.run.recovery import repair_interrupted
    from pipeline.store import Store
    from pipeline.understand.presets import seed_templates
    from pipeline.understand.refine import Refiner

    parts.store = Store(settings.db_path, settings.images_dir)
    seed_templates(parts.store)
    repair_interrupted(parts.store)  # messages a crash left unanswered get an "interrupted — try again" reply
    parts.executor = build_executor(settings, registry)
    parts.pipeline = Pipeline(settings, parts.store, registry, parts.router, Refiner(parts.store),
                              executor=parts.executor)
    return parts


def preload_on_zerogpu(registry) -> list[str]:
    """On a ZeroGPU Space, the ready neural models loaded onto `cuda` in the main process before launch, as
    ZeroGPU expects (front and worker alike); elsewhere nothing. Returns what was loaded."""
    from core import platform

    if not platform.on_zerogpu():
        return []
    from pipeline.executors.zerogpu import preload

    return preload(registry)


def describe(settings, registry, router=None) -> dict:
    """What this server can do: every capability with its backends, the router, and the start-up block (device,
    torch/CUDA and the driver, weights) — the `/capabilities` answer and the page's capabilities view."""
    from models import runtime

    out = {"capabilities": registry.describe()}
    if router is not None and hasattr(router, "describe"):
        out["router"] = router.describe()
    out["runtime"] = runtime.block(settings, registry)
    return out
