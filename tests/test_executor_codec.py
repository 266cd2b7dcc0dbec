"""The wire codec shared by the Ray and remote executors, the seed fixed in the front, and build_executor."""

import threading

import numpy as np
import pytest
from PIL import Image

from core.errors import GatewayError, MissingInput
from models.cache import ModelCache
from models.contracts import Action, CapabilityRequest, CapabilityResult, InputImage, OutputImage
from models.registry import build_registry
from pipeline.executors import LocalExecutor, build_executor
from pipeline.executors.codec import (WIRE_VERSION, ExecutorUnavailable, WireError, decode_request, decode_result,
                                      encode_error, encode_request, encode_result, raise_error)
from pipeline.executors.seed import resolve_seed
from pipeline.executors.transport import INLINE_LIMIT, pack, unpack


def images():
    rng = np.random.default_rng(1)
    rgb = Image.fromarray((rng.random((20, 30, 3)) * 255).astype("uint8"))
    rgba = Image.fromarray((rng.random((20, 30, 4)) * 255).astype("uint8"), "RGBA")
    grey = Image.fromarray((rng.random((20, 30)) * 255).astype("uint8"), "L")
    return rgb, rgba, grey


def test_a_request_round_trips_pixel_exact_without_local_objects():
    rgb, rgba, grey = images()
    request = CapabilityRequest(
        "object_removal", "erase the cup", params={"target": "cup", "seed": 5},
        images=[InputImage(rgb, image_id="a" * 64, recipe={"seed": 1}, role="attachment"),
                InputImage(rgba, image_id=None, role="latest")],
        mask=grey, prompt="p", negative_prompt="n", context={"consent": True}, session_metadata={"k": 1},
        progress=lambda f, d: None, cancel_event=threading.Event(), device="cuda",
        credentials={"hf_token": "hf_secret", "x_ip_token": "quota-token-77"})
    header, blobs = encode_request(request, run_id="r1", credentials=("hf_token",))
    assert header["wire"] == WIRE_VERSION and header["run_id"] == "r1" and len(blobs) == 3
    assert header["credentials"] == {"hf_token": "hf_secret"}  # only what was asked for travels
    assert "quota-token-77" not in str(header)
    back = decode_request(header, blobs)
    assert (back.capability, back.text, back.params, back.prompt, back.negative_prompt) == \
        ("object_removal", "erase the cup", {"target": "cup", "seed": 5}, "p", "n")
    assert back.progress is None and back.cancel_event is None and back.device == "cpu"
    for original, copy in zip((rgb, rgba), back.images):
        assert copy.image.mode == original.mode and np.array_equal(np.asarray(copy.image), np.asarray(original))
    assert back.images[0].image_id == "a" * 64 and back.images[0].recipe == {"seed": 1}
    assert back.mask.mode == "L" and np.array_equal(np.asarray(back.mask), np.asarray(grey))


def test_a_result_round_trips_and_drops_what_cannot_travel():
    rgb, _, _ = images()
    result = CapabilityResult(
        images=[OutputImage(rgb, recipe={"seed": 7}, parent_ids=["p"], png_text={"parameters": "x"})],
        message="done", backend="b", model_id="m", metadata={"seed": 7, "handle": object()},
        actions=[Action("regenerate", "Again", "regenerate", {"params": {"mode": "regenerate"}})],
        suggestions=["Upscale"], session_updates={"k": True}, type="image")
    back = decode_result(*encode_result(result))
    assert back.metadata == {"seed": 7} and back.actions[0].to_dict() == result.actions[0].to_dict()
    assert np.array_equal(np.asarray(back.images[0].image), np.asarray(rgb))
    assert (back.images[0].recipe, back.images[0].parent_ids, back.images[0].png_text) == \
        ({"seed": 7}, ["p"], {"parameters": "x"})
    assert (back.message, back.backend, back.model_id, back.suggestions, back.session_updates) == \
        ("done", "b", "m", ["Upscale"], {"k": True})


def test_errors_keep_their_type_and_unexpected_ones_say_nothing_inside():
    with pytest.raises(MissingInput) as info:
        raise_error(encode_error(MissingInput("Attach an image.", suggestions=["Attach one"])))
    assert info.value.message == "Attach an image." and info.value.suggestions == ["Attach one"]
    header = encode_error(RuntimeError("secret path /root/x"), error_id="abc")
    assert "secret" not in str(header) and header["error"]["details"] == {"error_id": "abc"}
    with pytest.raises(GatewayError) as info:
        decode_result(header, [])
    assert info.value.code == "worker_error" and "abc" in info.value.message
    with pytest.raises(WireError, match="wire version"):
        decode_result({"wire": 99}, [])


def test_transport_inlines_small_payloads_and_spools_big_ones():
    message, paths = pack({"wire": 1}, [b"abc"])
    assert paths == [] and unpack(message, []) == ({"wire": 1}, [b"abc"])
    big = bytes(INLINE_LIMIT + 1)
    message, paths = pack({"wire": 1}, [big, b"x"])
    assert "inline" not in message and len(paths) == 2
    assert unpack(message, paths)[1] == [big, b"x"]


def test_the_seed_is_fixed_in_the_front_unless_the_run_reuses_one(settings):
    generation = build_registry(settings, ModelCache(2**30)).get("image_generation")
    original = CapabilityRequest("image_generation", "a fox", params={}, cancel_event=threading.Event())
    request = resolve_seed(original, generation)
    assert isinstance(request.params["seed"], int) and 0 <= request.params["seed"] < 2**32
    assert original.params == {} and request.cancel_event is original.cancel_event  # a copy carries the seed
    kept = resolve_seed(CapabilityRequest("image_generation", "a fox, seed 3", params={"seed": 3}), generation)
    assert kept.params["seed"] == 3
    exact = resolve_seed(CapabilityRequest("image_generation", "regenerate exactly", params={}), generation)
    assert "seed" not in exact.params  # it comes from the source image's recipe
    edit = build_registry(settings, ModelCache(2**30)).get("image_edit")
    assert "seed" not in resolve_seed(CapabilityRequest("image_edit", "rotate", params={}), edit).params


def test_build_executor_reads_the_setting(settings):
    registry = build_registry(settings, ModelCache(2**30))
    assert isinstance(build_executor(settings, registry), LocalExecutor)
    with pytest.raises(ValueError, match="GATEWAY_REMOTE_WORKERS"):
        build_executor(settings.replace(executor="remote", worker_token="t"), registry)
    with pytest.raises(ValueError, match="GATEWAY_WORKER_TOKEN"):
        build_executor(settings.replace(executor="remote", remote_workers="http://w:7860"), registry)
    with pytest.raises(ValueError, match="use local, ray or remote"):
        build_executor(settings.replace(executor="celery"), registry)
    assert issubclass(ExecutorUnavailable, GatewayError)
