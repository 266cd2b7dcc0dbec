"""Targets, pronouns and cues: what a message names, refers back to, or only seems to ask for
(pipeline.understand.params, pipeline.understand.router, pipeline.run.targets)."""

import pytest

from core.settings import Settings
from models.cache import ModelCache
from models.registry import build_registry
from pipeline.understand.classify import ClassifyContext
from pipeline.understand.params import extract_negative, extract_params
from pipeline.understand.router import Router
from pipeline.run.targets import named_object
from tests.pipeline_util import make_pipeline, send
from tests.image_util import png

NO_IMAGE, ONE_IMAGE, TWO_IMAGES, LATEST = ClassifyContext(), ClassifyContext(1), ClassifyContext(2), ClassifyContext(0, True)


@pytest.fixture(scope="module")
def router(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cues")
    settings = Settings.from_env({}, data_dir=folder)
    router = Router(settings, build_registry(settings, ModelCache(2**30)))
    router.warm()
    return router


@pytest.mark.parametrize("text", ["please erase it thx", "could you delete that one plz", "lose him now"])
def test_a_pronoun_with_fillers_is_no_target(router, text):
    params = router.route(text, LATEST).params
    assert "target" not in params and params.get("target_pronoun") is True, params


def test_fillers_come_off_a_named_target(router):
    assert router.route("get rid of the traffic cone pls", ONE_IMAGE).params["target"] == "traffic cone"


@pytest.mark.parametrize("text,found", [
    ("there's a lamp post near the door", "lamp post"),
    ("see that scooter behind the bench?", "scooter"),
    ("erase the kite from the sky", "kite"),
    ("draw a cat on a sofa", None),
])
def test_what_a_message_names(text, found):
    named = named_object(text)
    assert named == found if found is None else named.startswith(found), named  # qualifiers help grounding


def test_it_resolves_to_what_the_conversation_last_named(settings, astronaut):
    pipe, store = make_pipeline(settings)
    try:
        first = send(pipe, "there's a lamp post near the door in this one", images=[png(astronaut)])
        reply = send(pipe, "get rid of it please", first.session_id)
        assert reply.metadata["intent"] == "object_removal"
        assert "lamp post" in reply.message  # the capability was asked to find the lamp post (or says it can't)
        assert any("lamp post" in note for note in reply.metadata["notes"])
        nothing_named = send(pipe, "remove it", images=[png(astronaut)])
        assert nothing_named.metadata["intent"] == "object_removal"
        assert not any("mentioned" in note for note in nothing_named.metadata["notes"])
    finally:
        store.close()


@pytest.mark.parametrize("text,context", [("blak & whte plz", LATEST), ("balck and white", ONE_IMAGE)])
def test_misspelled_black_and_white_is_an_edit(router, text, context):
    routed = router.route(text, context)
    assert routed.name == "image_edit" and routed.params.get("operation") == "grayscale", routed


@pytest.mark.parametrize("text", ["compose a sonnet about rain", "could you write me a bedtime story about dragons",
                                  "translate thank you into german"])
def test_writing_requests_are_chat(router, text):
    routed = router.route(text, NO_IMAGE)
    assert routed.name == "chat", routed


def test_a_writing_request_is_answered_with_what_the_app_does(settings):
    pipe, store = make_pipeline(settings)
    try:
        reply = send(pipe, "compose a sonnet about rain")
        assert reply.type == "text" and reply.metadata["intent"] == "chat" and reply.images == []
        assert "what I can do" in reply.message
    finally:
        store.close()


def test_midjourney_no_flags_are_negatives():
    assert extract_negative("a lighthouse at night --no boats, people --ar 16:9") == ["boats", "people"]
    params = extract_params("portrait of a knight --no helmet --ar 2:3 --seed 9", "image_generation")
    assert params["negative"] == ["helmet"] and params["aspect"] == "2:3" and params["seed"] == 9


def test_a_negative_list_stops_at_the_next_clause():
    assert extract_negative("a red car on a bridge, no birds, then make the sky pink") == ["birds"]
    assert extract_negative("a meadow without fences or cows, and then upscale it") == ["fences", "cows"]


def test_the_size_an_image_has_is_not_the_size_asked_for(router):
    routed = router.route("the photo is just 640px wide, please raise the resolution", ONE_IMAGE)
    assert routed.name == "upscale" and "width" not in routed.params
    plan = router.plan("the photo is just 640px wide, please raise the resolution", ONE_IMAGE)
    assert plan.intents == ["upscale"]
    assert extract_params("resize it to 640px wide", "image_edit")["width"] == 640


def test_pictures_given_are_not_a_count(router):
    routed = router.route("face swap between those 2 photos", TWO_IMAGES)
    assert routed.name == "face_swap" and "count" not in routed.params
    assert extract_params("make 2 photos of a dragon", "image_generation")["count"] == 2
