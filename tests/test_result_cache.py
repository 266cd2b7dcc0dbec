"""The result cache (pipeline.run.result_cache) through process_message: hits return the stored images without
running the model; regenerate and unseeded stochastic runs never hit; a new backend or model version misses;
one owner's entries never serve another."""

import numpy as np
import pytest
from PIL import Image

from models.cache import ModelCache
from models.contracts import Backend, Capability, CapabilityResult, OutputImage
from models.registry import Registry, build_registry
from pipeline.executors import LocalExecutor
from pipeline.run.process import Pipeline
from pipeline.understand.refine import Refiner
from pipeline.understand.router import Router
from pipeline.store import Store
from tests.pipeline_util import ALICE, BOB, send
from tests.image_util import png


class CountingExecutor(LocalExecutor):
    """The local executor, counting the runs that really happen."""

    def __init__(self, registry):
        super().__init__(registry)
        self.runs = []

    def _execute(self, request):  # (Executor.run itself cannot be overridden: it fixes the seed)
        self.runs.append(request.capability)
        return super()._execute(request)


def build(settings, registry=None, store=None):
    store = store or Store(settings.db_path, settings.images_dir)
    registry = registry or build_registry(settings, ModelCache(2**30))
    executor = CountingExecutor(registry)
    return Pipeline(settings, store, registry, Router(settings, registry), Refiner(store), executor), store, executor


@pytest.fixture
def env(settings):
    pipe, store, executor = build(settings)
    yield pipe, store, executor
    store.close()


def test_the_same_edit_on_the_same_image_is_served_from_the_cache(env, astronaut):
    pipe, store, executor = env
    first = send(pipe, "turn it 90 degrees to the left", images=[png(astronaut)])
    assert first.type == "image" and first.metadata["cache_hit"] is False
    second = send(pipe, "turn it 90 degrees to the left", first.session_id, images=[png(astronaut)])
    assert second.type == "image" and second.metadata["cache_hit"] is True
    assert executor.runs == ["image_edit"]  # the second request ran nothing
    assert second.images[0].id == first.images[0].id
    assert open(second.images[0].path, "rb").read() == open(first.images[0].path, "rb").read()
    assert second.message_id != first.message_id  # linked to a new message of its own
    history = store.history(first.session_id, ALICE)
    assert history[-1].metadata["cache_hit"] is True and history[-1].images[0].id == first.images[0].id
    assert store.latest_image(first.session_id, ALICE).id == first.images[0].id
    assert pipe.results.stats(ALICE) == {"entries": 1, "hits": 1}


def test_another_image_or_another_edit_is_not_a_hit(env, astronaut):
    pipe, _, executor = env
    first = send(pipe, "turn it 90 degrees to the left", images=[png(astronaut)])
    other = send(pipe, "turn it 90 degrees to the left", first.session_id, images=[png(astronaut.rotate(180))])
    different = send(pipe, "turn it 90 degrees to the right", first.session_id, images=[png(astronaut)])
    assert not other.metadata["cache_hit"] and not different.metadata["cache_hit"]
    assert len(executor.runs) == 3


def test_a_hit_never_crosses_owners_and_ends_with_the_conversation(env, astronaut):
    pipe, store, executor = env
    alice = send(pipe, "crop it to a square", images=[png(astronaut.crop((0, 0, 512, 300)))])
    bob = send(pipe, "crop it to a square", images=[png(astronaut.crop((0, 0, 512, 300)))], owner=BOB)
    assert bob.type == "image" and bob.metadata["cache_hit"] is False
    assert len(executor.runs) == 2 and pipe.results.stats(BOB)["entries"] == 1
    store.delete_session(alice.session_id, ALICE)
    again = send(pipe, "crop it to a square", images=[png(astronaut.crop((0, 0, 512, 300)))])
    assert again.type == "image" and again.metadata["cache_hit"] is False  # the deleted chat's image is not revived
    assert len(executor.runs) == 3


def test_plan_steps_use_the_cache_too(env, astronaut):
    pipe, _, executor = env
    first = send(pipe, "flip it and then blur it slightly", images=[png(astronaut)])
    second = send(pipe, "flip it and then blur it slightly", first.session_id, images=[png(astronaut)])
    assert [s["cache_hit"] for s in second.metadata["plan"]] == [True, True] and second.metadata["cache_hit"]
    assert [i.id for i in second.images] == [i.id for i in first.images]
    assert executor.runs == ["image_edit", "image_edit"]


# ---- stochastic runs, regenerate, new backends and model versions ----------------------------------------------
class NoiseBackend(Backend):
    """A stochastic stand-in for a generator: random pixels from the request's seed (or a fresh one)."""

    name = "noise"
    capability = "image_generation"
    uses_model = False
    version = "1"

    def run(self, handle, request):
        seed = request.params.get("seed")
        seed = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % 2**32)
        pixels = np.random.default_rng(seed).integers(0, 255, (32, 32, 3), dtype=np.uint8)
        return CapabilityResult(images=[OutputImage(Image.fromarray(pixels), recipe={"seed": seed})],
                                backend=self.name, model_id=f"noise-v{self.version}", metadata={"seed": seed})

    def cache_key(self):
        return f"noise/{self.version}"


class OtherNoiseBackend(NoiseBackend):
    name = "other-noise"


def noise_registry(*backends) -> Registry:
    registry = Registry(ModelCache(2**20))
    registry.add(Capability(name="image_generation", description="noise", backends=list(backends)))
    registry.add(Capability(name="chat", description="chat", backends=[]))
    return registry


def generate(pipe, text, session_id=""):
    return send(pipe, text, session_id, force_intent="image_generation")


def test_stochastic_runs_hit_only_with_a_fixed_seed_and_never_on_regenerate(settings):
    pipe, store, executor = build(settings, noise_registry(NoiseBackend()))
    try:
        a = generate(pipe, "a field of static")
        b = generate(pipe, "a field of static", a.session_id)
        assert not a.metadata["cache_hit"] and not b.metadata["cache_hit"] and len(executor.runs) == 2
        seeded = generate(pipe, "a field of static, seed 11", a.session_id)
        again = generate(pipe, "a field of static, seed 11", a.session_id)
        assert again.metadata["cache_hit"] and again.images[0].id == seeded.images[0].id and len(executor.runs) == 3
        regenerate = generate(pipe, "a field of static, seed 11, again", a.session_id)
        assert not regenerate.metadata["cache_hit"] and len(executor.runs) == 4
        assert pipe.results.stats(ALICE)["entries"] == 1  # unseeded runs were never stored
    finally:
        store.close()


def test_a_new_backend_or_model_version_misses(settings):
    first_backend = NoiseBackend()
    pipe, store, executor = build(settings, noise_registry(first_backend))
    try:
        seeded = generate(pipe, "static, seed 5")
        assert generate(pipe, "static, seed 5", seeded.session_id).metadata["cache_hit"]
        first_backend.version = "2"  # new weights for the same backend
        upgraded = generate(pipe, "static, seed 5", seeded.session_id)
        assert not upgraded.metadata["cache_hit"] and upgraded.metadata["model_id"] == "noise-v2"
        # another backend now serves the capability
        other, other_store, other_executor = build(settings, noise_registry(OtherNoiseBackend()), store=store)
        swapped = generate(other, "static, seed 5", seeded.session_id)
        assert not swapped.metadata["cache_hit"] and other_executor.runs == ["image_generation"]
        # a setting that chooses the models changes the key as well
        moved, _, moved_executor = build(settings.replace(t2i_model="some/other-model"), noise_registry(first_backend),
                                         store=store)
        assert not generate(moved, "static, seed 5", seeded.session_id).metadata["cache_hit"]
        assert moved_executor.runs == ["image_generation"]
    finally:
        store.close()
