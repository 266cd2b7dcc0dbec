"""What runs inside a Ray Serve replica: the gateway's own registry and model cache, fed over the wire codec.

`replica_deployment(settings, pool, registry_factory)` returns the Serve deployment of one pool: `models`
(backends that load a model: CPUs/GPUs and autoscaling from settings, `@serve.multiplexed` keyed by the
backend's cache key so Serve routes a request to a replica that already holds its model) or `light` (model-free
work: Pillow edits, text answers). Each replica builds its registry from the settings, runs requests through a
`LocalExecutor` (so `GATEWAY_CONCURRENCY_LIMIT` model runs at a time, in order) on worker threads, and streams
`("progress", fraction, text)` events (the latest one, at most every 0.1 s) followed by one
`("result", header, blobs)` or `("error", header, [])`.
When the caller cancels, the run's cancel event is set, so a backend that checks it stops early. Serve's
multiplexing evicts the least recently used model id; the matching entries leave this replica's model cache.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from core.errors import GatewayError
from pipeline.executors.codec import decode_request, encode_error, encode_result

log = logging.getLogger(__name__)

MODELS, LIGHT = "models", "light"
LIGHT_CPUS = 0.25
PROGRESS_EVERY_S = 0.1  # at most this often a progress event travels back to the front


class _Held:
    """What Serve's multiplexer keeps per model id: the model-cache keys loaded for it in this replica."""

    def __init__(self, cache):
        self.cache, self.keys = cache, set()

    def __del__(self):  # Serve calls this when it unloads the model id (LRU)
        keys, self.keys = getattr(self, "keys", set()), set()
        for key in keys:
            self.cache.evict(key)


def replica_options(settings, pool: str) -> dict:
    """Serve deployment options of a pool, from the settings."""
    if pool == LIGHT:
        return {"num_replicas": max(1, settings.ray_light_replicas), "max_ongoing_requests": 16,
                "ray_actor_options": {"num_cpus": LIGHT_CPUS, "num_gpus": 0}}
    low, high = max(0, settings.ray_min_replicas), max(1, settings.ray_max_replicas)
    target = max(0.1, float(settings.ray_target_ongoing_requests))
    options = {"max_ongoing_requests": max(2, math.ceil(target * 2)),
               "ray_actor_options": {"num_cpus": settings.ray_cpus_per_replica,
                                     "num_gpus": settings.ray_gpus_per_replica}}
    if high > max(low, 1) or low == 0:
        options["autoscaling_config"] = {"min_replicas": low, "max_replicas": max(high, low, 1),
                                         "target_ongoing_requests": target}
    else:
        options["num_replicas"] = max(low, 1)
    return options


def replica_deployment(settings, pool: str, registry_factory=None):
    """The bound Serve application of one pool (call `serve.run` on it)."""
    from ray import serve

    options = replica_options(settings, pool)

    class GatewayReplica:
        def __init__(self, settings, pool, registry_factory):
            from models.cache import model_cache_for
            from models.registry import build_registry
            from pipeline.executors import LocalExecutor

            self.pool = pool
            self.cache = model_cache_for(settings)
            factory = registry_factory or build_registry
            self.registry = factory(settings, self.cache, device=settings.device)
            self.local = LocalExecutor(self.registry, model_slots=settings.concurrency_limit)
            self.threads = ThreadPoolExecutor(max_workers=options["max_ongoing_requests"],
                                              thread_name_prefix="gateway-run")
            self.replica_id = f"{pool}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

        @serve.multiplexed(max_num_models_per_replica=max(1, settings.ray_models_per_replica))
        async def hold(self, model_id: str) -> _Held:
            return _Held(self.cache)

        def stats(self) -> dict:
            return {"replica": self.replica_id, "pid": os.getpid(), "cache_keys": self.cache.keys()}

        async def run(self, header: dict, blobs: list):
            key = serve.get_multiplexed_model_id() if self.pool == MODELS else ""
            held = await self.hold(key) if key else None
            loop = asyncio.get_running_loop()
            events: asyncio.Queue = asyncio.Queue()
            cancel = threading.Event()

            def progress(fraction, description=""):
                loop.call_soon_threadsafe(events.put_nowait, ("progress", float(fraction), str(description or "")))

            future = loop.run_in_executor(self.threads, self._work, header, blobs, progress, cancel, held)
            sent = -PROGRESS_EVERY_S
            try:
                while True:
                    getter = asyncio.ensure_future(events.get())
                    done, _ = await asyncio.wait({getter, future}, return_when=asyncio.FIRST_COMPLETED)
                    if future in done:  # progress still queued is stale now: the result is what matters
                        getter.cancel()
                        yield future.result()
                        return
                    event = getter.result()
                    while not events.empty():
                        event = events.get_nowait()  # only the latest counts
                    if loop.time() - sent >= PROGRESS_EVERY_S:  # each streamed item costs a round trip
                        sent = loop.time()
                        yield event
            except asyncio.CancelledError:
                cancel.set()  # the caller went away or pressed stop: let the backend stop at its next check
                raise

        def _work(self, header, blobs, progress, cancel, held):
            try:
                request = decode_request(header, blobs, progress=progress, cancel_event=cancel)
                if held is not None and not held.keys:  # the front's key → this replica's cache key, once
                    held.keys.add(self.registry.ready_backend(request.capability).cache_key())
                result = self.local.run(request)
                result.metadata.update(executor="ray", ray_replica=self.replica_id)
                return ("result", *encode_result(result))
            except GatewayError as exc:
                return ("error", encode_error(exc), [])
            except Exception as exc:  # noqa: BLE001 - the front gets an error id; the traceback stays in this log
                error_id = uuid.uuid4().hex[:12]
                log.exception("error %s in a Ray replica run", error_id)
                return ("error", encode_error(exc, error_id=error_id), [])

    deployment = serve.deployment(GatewayReplica).options(name=f"gateway-{pool}", **options)
    return deployment.bind(settings, pool, registry_factory)
