"""Shared by the executor tests: a front pipeline over any executor, and test backends that crash or wait.

`registry_with_test_backends(settings, cache, device)` is the real registry (every capability module) with two
capabilities swapped for test backends a Ray replica or a worker can import: `upscale` → `CrashOnce` (kills
its own process on the first run after `arm_crash(folder)`, then answers), `object_removal` → `Slow` (reports
progress every 0.1 s for up to 30 s and stops when cancelled, leaving a marker file that proves the cancel
reached it). Both write only under `settings.data_dir`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from core.errors import Cancelled
from models.cache import ModelCache
from models.contracts import Backend, Capability, CapabilityResult, OutputImage
from models.registry import build_registry

PHOTO_SIZE = (96, 64)


class CrashOnce(Backend):
    name = "crash_once"
    capability = "upscale"

    def run(self, handle, request):
        armed = Path(self.settings.data_dir) / "crash-armed"
        if armed.exists():
            armed.unlink()
            os._exit(3)  # the process dies mid-run, as a replica or worker would on a segfault or OOM kill
        return CapabilityResult(images=[OutputImage(request.images[0].image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))],
                                message="flipped", metadata={"pid": os.getpid()})


class Slow(Backend):
    name = "slow"
    capability = "object_removal"

    def run(self, handle, request):
        deadline = time.monotonic() + 30
        step = 0
        while time.monotonic() < deadline:
            if request.cancelled():
                Path(self.settings.data_dir).mkdir(parents=True, exist_ok=True)
                (Path(self.settings.data_dir) / "saw-cancel").write_text(str(step))
                raise Cancelled("Stopped by the test.")
            step += 1
            request.report(min(0.99, step / 300), f"step {step}")
            time.sleep(0.1)
        return CapabilityResult(message="finished slowly")


def arm_crash(data_dir) -> None:
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    (Path(data_dir) / "crash-armed").write_text("1")


def registry_with_test_backends(settings, cache, device="cpu"):
    registry = build_registry(settings, cache, device=device)
    registry._capabilities["upscale"] = Capability("upscale", "test: crashes once", min_images=1, max_images=1,
                                                   backends=[CrashOnce(settings)])
    registry._capabilities["object_removal"] = Capability("object_removal", "test: slow", min_images=0,
                                                          backends=[Slow(settings)])
    return registry


def make_front(settings, executor=None, registry=None):
    """A real Pipeline (store, router, refiner) whose runs go through `executor` (None = local)."""
    from pipeline.understand.presets import seed_templates
    from pipeline.run.process import Pipeline
    from pipeline.understand.refine import Refiner
    from pipeline.understand.router import Router
    from pipeline.store import Store

    store = Store(settings.db_path, settings.images_dir)
    seed_templates(store)
    registry = registry or build_registry(settings, ModelCache(2**30), device="cpu")
    return Pipeline(settings, store, registry, Router(settings, registry), Refiner(store), executor=executor), store


def photo() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray((rng.random((PHOTO_SIZE[1], PHOTO_SIZE[0], 3)) * 255).astype("uint8"))


def pixels(response, index: int = 0) -> np.ndarray:
    assert response.type == "image", (response.type, response.message)
    return np.asarray(Image.open(response.images[index].path))


def send(pipeline, text, images=(), **context):
    return pipeline.process_message(text, "", list(images), {"owner": "owner-test-executors", **context})
