"""GATEWAY_EXECUTOR=ray on a real local Ray (2 CPUs): same pixels as local, model-aware routing, progress,
cancel, timeout, and a replica that dies mid-run.

One Ray cluster and one pair of Serve applications serve the whole module (starting them takes 15-40 s). The
replicas build the real registry from the settings (a tiny diffusers folder for generation), with two
capabilities swapped for test backends (tests/executor_util.py): one that kills its replica once, one that
waits until it is cancelled.
"""

import threading
import time

import numpy as np
import pytest

pytest.importorskip("ray")

from core.errors import Cancelled  # noqa: E402
from models.cache import ModelCache  # noqa: E402
from models.contracts import CapabilityRequest, InputImage  # noqa: E402
from pipeline.executors.codec import ExecutorUnavailable  # noqa: E402
from tests.executor_util import (arm_crash, make_front, photo, pixels, registry_with_test_backends,  # noqa: E402
                                 send)
from tests.tiny_models import build_tiny_sd_pipeline  # noqa: E402

GENERATE = "a red fox in the snow, 64x64, 2 steps, seed 7"


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    return build_tiny_sd_pipeline(tmp_path_factory.mktemp("ray-t2i") / "sd")


@pytest.fixture(scope="module")
def base_settings(tmp_path_factory, tiny_sd):
    from core.settings import Settings

    return Settings.from_env({}, data_dir=tmp_path_factory.mktemp("ray") / "data", t2i_model=str(tiny_sd),
                             t2i_safety="off", router_backend="lexical", ray_num_cpus=2,
                             ray_cpus_per_replica=0.5, ray_min_replicas=2, ray_max_replicas=2)


@pytest.fixture(scope="module")
def ray_executor(base_settings):
    from pipeline.executors.ray_executor import RayExecutor

    registry = registry_with_test_backends(base_settings, ModelCache(2**30))
    executor = RayExecutor(base_settings.replace(executor="ray"), registry,
                           registry_factory=registry_with_test_backends)
    executor.wait_ready()
    yield executor
    executor.close()


@pytest.fixture(scope="module")
def fronts(base_settings, ray_executor, tmp_path_factory):
    """Two real fronts (store, router, pipeline): one on the local executor, one on Ray."""
    local_settings = base_settings.replace(data_dir=tmp_path_factory.mktemp("front-local") / "data")
    ray_settings = base_settings.replace(data_dir=tmp_path_factory.mktemp("front-ray") / "data", executor="ray")
    local, local_store = make_front(local_settings)
    remote, ray_store = make_front(ray_settings, executor=ray_executor, registry=ray_executor.registry)
    yield local, remote
    local_store.close()
    ray_store.close()


def test_done_when_rotate_and_seeded_generation_give_the_same_pixels_as_local(fronts):
    local, on_ray = fronts
    here = send(local, "rotate it 90 degrees", [photo()])
    there = send(on_ray, "rotate it 90 degrees", [photo()])
    assert here.metadata["intent"] == there.metadata["intent"] == "image_edit"
    assert (here.metadata["executor"], there.metadata["executor"]) == ("local", "ray")
    assert pixels(there).shape == (96, 64, 3) and np.array_equal(pixels(here), pixels(there))

    here = send(local, GENERATE)
    there = send(on_ray, GENERATE)
    assert there.metadata["intent"] == "image_generation" and there.metadata["executor"] == "ray"
    assert there.metadata["seed"] == here.metadata["seed"] == 7
    assert pixels(there).shape == (64, 64, 3) and np.array_equal(pixels(here), pixels(there))


def test_unseeded_generation_gets_its_seed_in_the_front(ray_executor):
    request = CapabilityRequest("image_generation", "a red fox, 64x64, 2 steps", params={"width": 64, "height": 64,
                                                                                     "steps": 2}, prompt="a red fox")
    first, second = ray_executor.run(request), ray_executor.run(request)
    assert "seed" not in request.params  # the caller's request is untouched: the user chose no seed
    assert isinstance(first.metadata["seed"], int) and first.metadata["seed"] == first.images[0].recipe["seed"]
    assert first.metadata["seed"] != second.metadata["seed"]  # a new one for each run


def test_progress_streams_and_model_aware_routing_keeps_one_replica(ray_executor):
    reports = []
    ray_executor.run(CapabilityRequest("image_generation", "a red fox", prompt="a red fox",
                                       params={"width": 64, "height": 64, "steps": 40, "seed": 7},
                                       progress=lambda f, d: reports.append((f, d))))
    steps = [f for f, d in reports if d.startswith("Step ")]
    assert steps and steps == sorted(steps) and reports[-1] == (1.0, "Done"), reports
    replicas = []
    for _ in range(4):
        result = ray_executor.run(CapabilityRequest(
            "image_generation", GENERATE, params={"width": 64, "height": 64, "steps": 2, "seed": 7}, prompt="a red fox"))
        replicas.append(result.metadata["ray_replica"])
    assert len(set(replicas)) == 1, replicas  # Serve routes the model id to the replica that holds it
    key = ray_executor.registry.ready_backend("image_generation").cache_key()
    stats = ray_executor.handles["models"].options(multiplexed_model_id=key).stats.remote().result()
    assert stats["replica"] == replicas[0] and key in stats["cache_keys"]


def test_cancel_reaches_the_replica(ray_executor, base_settings):
    cancel, reports, errors = threading.Event(), [], []
    request = CapabilityRequest("object_removal", "remove it", cancel_event=cancel,
                                progress=lambda f, d: reports.append(d))
    runner = threading.Thread(target=lambda: errors.append(_catch(ray_executor.run, request)))
    runner.start()
    _wait_for(lambda: any(d.startswith("step") for d in reports), 60)
    started = time.monotonic()
    cancel.set()
    runner.join(10)
    assert not runner.is_alive() and isinstance(errors[0], Cancelled), errors
    assert time.monotonic() - started < 5
    _wait_for(lambda: (base_settings.data_dir / "saw-cancel").exists(), 10)  # the backend itself saw it


def test_a_run_past_the_timeout_is_abandoned_with_an_error(ray_executor):
    settings = ray_executor.settings
    ray_executor.settings = settings.replace(executor_timeout_s=1.5)
    try:
        started = time.monotonic()
        with pytest.raises(ExecutorUnavailable, match="did not finish within 1.5 s"):
            ray_executor.run(CapabilityRequest("object_removal", "remove it"))
        assert time.monotonic() - started < 6
    finally:
        ray_executor.settings = settings


def test_a_replica_dying_mid_run_is_retried_once(ray_executor, base_settings):
    arm_crash(base_settings.data_dir)
    request = CapabilityRequest("upscale", "upscale it", images=[InputImage(photo(), image_id="x")])
    result = ray_executor.run(request)
    assert result.message == "flipped" and result.metadata["executor"] == "ray"
    assert result.metadata["executor_retried"] is True and ray_executor.retries >= 1
    assert np.array_equal(np.asarray(result.images[0].image), np.asarray(photo())[:, ::-1])


def _catch(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001
        return exc


def _wait_for(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
