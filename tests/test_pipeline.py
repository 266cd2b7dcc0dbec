"""process_message end to end on the real store, registry and image_edit capability (no gradio)."""

import json

import numpy as np
import pytest
from PIL import Image

from core.errors import GatewayError
from core.images import recipe_from_png
from models.cache import ModelCache
from models.contracts import Backend, Capability, CapabilityResult, OutputImage
from models.registry import Registry, build_registry
from pipeline.understand.classify import Intent
from pipeline.understand.router import Router
from tests.image_util import png
from tests.pipeline_util import ALICE, BOB, make_pipeline, send

@pytest.fixture
def pipe(settings):
    pipeline, store = make_pipeline(settings)
    yield pipeline
    store.close()



def test_edit_an_attached_photo_then_refer_to_it(pipe, astronaut):
    first = send(pipe, "make it black and white", images=[png(astronaut)])
    assert first.type == "image", first.message
    assert first.metadata["intent"] == "image_edit" and first.metadata["backend"] == "pillow"
    timings = first.metadata["timings_ms"]
    for step in ("classify_ms", "refine_ms", "route_ms", "format_ms", "store_ms", "total_ms"):
        assert step in timings
    out = first.images[0]
    arr = np.asarray(Image.open(out.path).convert("RGB")).astype(int)
    assert (out.width, out.height) == (512, 512)
    assert np.abs(arr[..., 0] - arr[..., 1]).max() <= 1  # grey
    recipe = recipe_from_png(out.path)
    upload_id = pipe.store.history(first.session_id, ALICE)[0].images[0].id
    assert recipe["capability"] == "image_edit" and recipe["parent_ids"] == [upload_id]

    # "it" = the session's latest image (the grey one), no attachment needed
    second = send(pipe, "rotate it 90 degrees", first.session_id)
    assert second.type == "image", second.message
    assert second.images[0].width == 512
    assert recipe_from_png(second.images[0].path)["parent_ids"] == [out.id]
    rows = pipe.store.history(first.session_id, ALICE)
    assert [r.role for r in rows] == ["user", "assistant", "user", "assistant"]
    assert rows[-1].metadata["intent"] == "image_edit"


def test_chat_answers_from_the_registry(pipe):
    reply = send(pipe, "what can you do?")
    assert reply.type == "text" and reply.metadata["intent"] == "chat"
    assert "image edit" in reply.message  # listed because it is available
    assert reply.images == []


def test_missing_image_is_a_normal_reply(pipe):
    reply = send(pipe, "rotate it by 90 degrees")
    assert reply.type == "error" and reply.error["code"] == "missing_input"
    assert "attach" in reply.message.lower()
    assert reply.message_id is not None  # accepted and stored, like any reply


@pytest.mark.parametrize("payload, code", [
    (b"", "invalid_image"),
    (b"not an image at all", "invalid_image"),
])
def test_bad_upload_is_refused_and_nothing_is_written(pipe, payload, code):
    reply = send(pipe, "make it brighter", images=[payload])
    assert reply.type == "error" and reply.error["code"] == code
    assert pipe.store.list_sessions(ALICE) == []


def test_giant_prompt_is_refused(pipe, settings):
    reply = send(pipe, "a" * (settings.max_prompt_chars + 1))
    assert reply.type == "error" and reply.error["code"] == "invalid_input"
    assert pipe.store.list_sessions(ALICE) == []


def test_forged_or_foreign_session_ids_are_not_found(pipe, astronaut):
    mine = send(pipe, "make it brighter", images=[png(astronaut)])
    assert send(pipe, "hello", "0" * 32).error["code"] == "not_found"
    stolen = send(pipe, "make it darker", mine.session_id, owner=BOB)
    assert stolen.type == "error" and stolen.error["code"] == "not_found"
    image_id = mine.images[0].id
    borrowed = send(pipe, "rotate it", owner=BOB, image_ids=[image_id], force_intent="image_edit")
    assert borrowed.error["code"] == "not_found"
    assert pipe.store.message_count(mine.session_id, ALICE) == 2


def test_two_attachments_are_kept_in_order(settings, astronaut):
    seen = []

    class Spy(Backend):
        name, capability = "spy", "style_transfer"

        def run(self, handle, request):
            seen.append([inp.image.size for inp in request.images])
            return CapabilityResult(images=[OutputImage(request.images[0].image)])

    registry = build_registry(settings, ModelCache(2**30))
    registry._capabilities["style_transfer"] = Capability("style_transfer", "spy", min_images=1, max_images=2,
                                                           backends=[Spy()])
    pipe, store = make_pipeline(settings, registry=registry)
    big, small = astronaut, astronaut.resize((64, 32))
    reply = send(pipe, "apply the style of the second image to the first", images=[png(big), png(small)],
                 force_intent="style_transfer")
    assert reply.type == "image", reply.message
    assert seen == [[(512, 512), (64, 32)]]


def test_unexpected_crash_gets_an_error_id_and_the_server_keeps_serving(settings, astronaut):
    class Broken(Backend):
        name, capability = "broken", "upscale"

        def run(self, handle, request):
            raise ZeroDivisionError("bug")

    registry = build_registry(settings, ModelCache(2**30))
    registry._capabilities["upscale"] = Capability("upscale", "x", min_images=1, max_images=1, backends=[Broken()])
    pipe, store = make_pipeline(settings, registry=registry)
    reply = send(pipe, "upscale this 2x", images=[png(astronaut)], force_intent="upscale")
    assert reply.type == "error" and reply.error.get("error_id")
    assert "error id" in reply.message
    assert send(pipe, "make it brighter", reply.session_id).type == "image"


def test_consent_is_asked_once_per_session_and_stored(settings, astronaut):
    runs = []

    class Swap(Backend):
        name, capability = "fake_swap", "face_swap"

        def run(self, handle, request):
            runs.append(dict(request.session_metadata))
            return CapabilityResult(images=[OutputImage(request.images[-1].image)])

    registry = build_registry(settings, ModelCache(2**30))
    registry._capabilities["face_swap"] = Capability("face_swap", "x", min_images=2, max_images=2,
                                                      requires_consent="face_swap_consent",
                                                      consent_text="Confirm you may use these faces.",
                                                      backends=[Swap()])
    pipe, store = make_pipeline(settings, registry=registry)
    faces = [png(astronaut), png(astronaut.transpose(Image.FLIP_LEFT_RIGHT))]
    ask = send(pipe, "swap the faces", images=faces, force_intent="face_swap")
    assert ask.type == "clarification" and runs == []
    chip = ask.actions[0]
    assert chip["context"]["consent"] is True and len(chip["context"]["image_ids"]) == 2
    done = send(pipe, chip["message"], ask.session_id, **chip["context"])
    assert done.type == "image", done.message
    assert runs[0]["face_swap_consent"] is True
    again = send(pipe, "swap the faces", ask.session_id, images=faces, force_intent="face_swap")
    assert again.type == "image"  # not asked twice in the same session
    assert store.get_session(ask.session_id, ALICE).metadata["face_swap_consent"] is True


def test_the_consent_question_names_both_photos(pipe, astronaut):
    faces = [png(astronaut), png(astronaut.transpose(Image.FLIP_LEFT_RIGHT))]
    ask = send(pipe, "swap the faces", images=faces, force_intent="face_swap")
    assert ask.type == "clarification"
    assert "the face from the first image onto the second image" in ask.message, ask.message
    other_way = send(pipe, "put the face from the second image onto the first", images=faces, force_intent="face_swap")
    assert "the face from the second image onto the first image" in other_way.message, other_way.message


class _Unsure:
    def __init__(self, registry):
        self.inner = Router(None, registry)

    def warm(self):
        pass

    def route(self, text, context, forced_intent=None):
        if forced_intent:
            return self.inner.route(text, context, forced_intent)
        return Intent("image_edit", 0.34, candidates=[("image_edit", 0.34), ("upscale", 0.33), ("style_transfer", 0.33)],
                      source="test", ambiguous=True)


def test_low_confidence_asks_with_chips_and_a_chip_runs_it(settings, astronaut):
    registry = build_registry(settings, ModelCache(2**30))
    pipe, store = make_pipeline(settings, registry=registry, router=_Unsure(registry))
    ask = send(pipe, "make it brighter please", images=[png(astronaut)])
    assert ask.type == "clarification"
    labels = [a["id"] for a in ask.actions]
    assert labels == ["intent:image_edit", "intent:upscale", "intent:style_transfer"]
    chip = ask.actions[0]
    done = send(pipe, chip["message"], ask.session_id, **chip["context"])
    assert done.type == "image" and done.metadata["intent"] == "image_edit"
    assert np.asarray(Image.open(done.images[0].path)).mean() > np.asarray(astronaut).mean()


def test_not_what_i_meant_reroutes_and_records_the_correction(pipe, astronaut):
    first = send(pipe, "make it pop", images=[png(astronaut)])  # the router hesitates: style or edit
    reroutes = [a for a in first.actions if a["id"].startswith("reroute:")]
    assert reroutes, first.actions
    chip = reroutes[0]
    again = send(pipe, chip["message"], first.session_id, **chip["context"])
    assert again.metadata["intent"] == chip["context"]["force_intent"]
    corrections = pipe.store.corrections()
    assert corrections and corrections[-1]["to_intent"] == chip["context"]["force_intent"]
    assert corrections[-1]["from_intent"] == "image_edit"


def test_response_shape_is_json(pipe, astronaut):
    reply = send(pipe, "make it black and white", images=[png(astronaut)])
    data = json.loads(json.dumps(reply.to_dict()))
    assert set(data) >= {"session_id", "message_id", "type", "message", "data", "actions", "suggestions"}
    image = data["data"]["images"][0]
    assert image["sha256"] == image["id"] and len(image["id"]) == 64
    assert data["data"]["metadata"]["capability"] == "image_edit"
    assert all(isinstance(s, str) for s in data["suggestions"])


def test_registry_rejects_unknown_and_duplicate_names(settings):
    registry = Registry(ModelCache(1))
    registry.add(Capability("chat", "x"))
    with pytest.raises(ValueError):
        registry.add(Capability("chat", "again"))
    with pytest.raises(ValueError):
        registry.add(Capability("teleport", "x"))


def test_capability_without_backend_says_so(settings):
    registry = build_registry(settings, ModelCache(1))
    registry._capabilities["upscale"] = Capability("upscale", "x", min_images=1, max_images=1, planned="coming soon")
    with pytest.raises(GatewayError) as info:
        registry.ready_backend("upscale")
    assert info.value.code == "capability_unavailable" and "coming soon" in info.value.message
