"""Prompt refinement (pipeline.understand.refine) and the style presets (pipeline.understand.presets): table-driven."""

import pytest

from core.errors import InvalidInput
from pipeline.understand.classify import Intent
from pipeline.understand.params import extract_params
from pipeline.understand.presets import PRESETS, seed_templates
from pipeline.understand.refine import Refiner, estimate_clip_tokens, subject_of


def _generation(text: str) -> Intent:
    return Intent("image_generation", 0.9, params=extract_params(text, "image_generation"))


# (message, subject the prompt must start with / contain, preset chosen, words that must not survive)
SUBJECTS = [
    ("Create a fantasy dragon", "a fantasy dragon", "fantasy art", ["create"]),
    ("can you create an image of a lighthouse? use seed 42", "a lighthouse", None, ["create", "image of", "seed", "42"]),
    ("Generate 4 images of a cozy cabin in the snow", "a cozy cabin in the snow", None, ["generate", "4 images"]),
    ("make me a picture of a sunset over the ocean, 1024x768", "a sunset over the ocean", None, ["1024", "picture of"]),
    ("i want an image of an astronaut riding a horse on mars", "an astronaut riding a horse on mars", None, ["want"]),
    ("a watercolor illustration of a fox in a forest", "a fox in a forest", "watercolor", ["illustration of"]),
    ("paint a portrait of an old fisherman in oil painting style", "a portrait of an old fisherman", "oil painting",
     ["paint a", "style"]),
    ("draw a cat in the style of pixel art, 1024 x 1024, seed=7", "a cat", "pixel art", ["seed", "1024", "style of"]),
    ("please could you draw me a cute corgi in a raincoat", "a cute corgi in a raincoat", None, ["please", "draw"]),
    ("a photorealistic red sports car, no people, no text", "a photorealistic red sports car", "photographic",
     ["no people", "no text"]),
    ("Imagine a castle floating in the clouds, wide 16:9", "a castle floating in the clouds", None, ["16:9", "imagine"]),
    ("a portrait of a robot, 30 steps", "a portrait of a robot", None, ["30 steps"]),
    ("show me a cyberpunk city street at night", "a cyberpunk city street at night", "cyberpunk", ["show me"]),
    ("I need a logo concept for a coffee shop called Bean There", "a logo concept for a coffee shop called Bean There",
     "logo", ["need"]),
]


@pytest.mark.parametrize("text,subject,preset,gone", SUBJECTS, ids=[s[0][:40] for s in SUBJECTS])
def test_keeps_the_subject_and_drops_commands_and_parameters(text, subject, preset, gone):
    result = Refiner().refine(text, _generation(text))
    assert subject in result.prompt
    assert result.style == preset
    body = result.prompt.lower().replace(subject.lower(), "")
    for word in gone:
        assert word.lower() not in body and word.lower() not in subject.lower(), (word, result.prompt)


def test_the_preset_adds_quality_terms_suited_to_the_style():
    watercolor = Refiner().refine("a heron at dawn, watercolour", _generation("a heron at dawn, watercolour"))
    assert watercolor.style == "watercolor"
    assert "paper texture" in watercolor.prompt and "photo" in watercolor.negative
    plain = Refiner().refine("a heron at dawn", _generation("a heron at dawn"))
    assert plain.style is None and "highly detailed" in plain.prompt and "paper texture" not in plain.prompt
    pixel = Refiner().refine("an 8-bit knight", _generation("an 8-bit knight"))
    assert pixel.style == "pixel art" and "smooth gradients" in pixel.negative


def test_a_style_named_in_the_subject_is_not_repeated_by_the_template():
    result = Refiner().refine("a cyberpunk city street", _generation("a cyberpunk city street"))
    assert result.prompt.lower().count("cyberpunk") == 1


@pytest.mark.parametrize("text,negatives", [
    ("a forest path, no people", ["people"]),
    ("a mountain lake without clouds or birds", ["clouds", "birds"]),
    ("a street scene, avoid cars, not blurry", ["cars", "blurry"]),
])
def test_negatives_go_to_the_negative_prompt_not_the_prompt(text, negatives):
    result = Refiner().refine(text, _generation(text))
    for word in negatives:
        assert word in result.negative
        assert word not in result.prompt.split(",")[0]
    assert result.negative.startswith(negatives[0])  # the user's words first, then the preset's


def test_empty_or_command_only_messages_are_refused_clearly():
    for text in ("", "   ", "generate an image", "4 images"):
        with pytest.raises(InvalidInput, match="what to draw"):
            Refiner().refine(text, _generation(text))


def test_a_regeneration_needs_no_new_subject():
    for text in ("do it again", "make variations of this", "another one"):
        result = Refiner().refine(text, _generation(text))
        assert result.prompt == ""


def test_too_long_a_message_is_refused():
    class Limits:
        max_prompt_chars = 50

    with pytest.raises(InvalidInput, match="limit is 50"):
        Refiner(settings=Limits()).refine("a" * 51, _generation("a"))


def test_prompts_stay_within_clip_77_tokens_with_a_note():
    long_text = "a castle " + " ".join(f"with tower number {i} and a red flag" for i in range(20))
    result = Refiner().refine(long_text, _generation(long_text))
    assert estimate_clip_tokens(result.prompt) <= 75
    assert result.prompt.startswith("a castle with tower number 0")
    assert any("77" in note for note in result.notes)
    short = Refiner().refine("a castle on a hill, oil painting", _generation("a castle on a hill, oil painting"))
    assert short.notes == []


def test_style_terms_are_dropped_before_the_description():
    text = "an old " + " ".join(["worn"] * 60) + " barn, watercolor"
    result = Refiner().refine(text, _generation(text))
    assert result.prompt.startswith("watercolor painting of an old worn") and " barn" in result.prompt
    assert "gentle colors" not in result.prompt  # the last style terms went first
    assert not any("77" in note for note in result.notes)  # only style terms had to go
    assert estimate_clip_tokens(result.prompt) <= 75


def test_clip_estimate_counts_words_digits_and_punctuation():
    assert estimate_clip_tokens("a cat") == 2
    assert estimate_clip_tokens("1024") == 4  # CLIP splits digits
    assert estimate_clip_tokens("a cat, sitting.") == 5
    assert estimate_clip_tokens("photorealistic") == 2


def test_refinement_is_deterministic():
    text = "draw three foxes in a snowy forest, watercolor, no people, seed 5"
    first = Refiner().refine(text, _generation(text))
    for _ in range(3):
        again = Refiner().refine(text, _generation(text))
        assert (again.prompt, again.negative, again.style, again.params) == (first.prompt, first.negative,
                                                                             first.style, first.params)


def test_clamped_parameters_come_back_with_notes():
    intent = Intent("image_generation", 0.9, params={"count": 20, "width": 5000})
    result = Refiner().refine("a lighthouse", intent)
    assert result.params["count"] == 8 and result.params["width"] == 2048
    assert len(result.notes) == 2
    upscale = Refiner().refine("upscale it 8x", Intent("upscale", 0.9, params={"scale": 8}))
    assert upscale.params["scale"] == 4 and upscale.prompt == "" and "8x" in upscale.notes[0]


def test_style_transfer_passes_the_style_through():
    text = "make it look like a Van Gogh painting"
    result = Refiner().refine(text, Intent("style_transfer", 0.9, params=extract_params(text, "style_transfer")))
    assert result.style == "van gogh painting" and "van gogh" in result.prompt


def test_subject_of_handles_parameter_phrases_anywhere():
    assert subject_of("seed 9, a koi pond, 20 steps") == "a koi pond"
    assert subject_of("a tall 2:3 poster of a rock band") == "a poster of a rock band"


def test_there_are_at_least_twenty_named_presets_with_a_placeholder():
    names = [p["name"] for p in PRESETS]
    assert len(names) >= 20 and len(set(names)) == len(names)
    for wanted in ("photographic", "cinematic", "anime", "watercolor", "oil painting", "pixel art", "3d render",
                   "line art", "comic book"):
        assert wanted in names
    for preset in PRESETS:
        assert "{prompt}" in preset["template"] and preset["tags"] and preset["negative"]


@pytest.mark.parametrize("text,preset", [
    ("a fox, aquarelle", "watercolor"), ("a cinematic shot of a cowboy", "cinematic"),
    ("a line drawing of a hand", "line art"), ("a comic book panel of a hero", "comic book"),
    ("an 8 bit dungeon", "pixel art"), ("a 3d render of a toy", "3d render"), ("an anime boy", "anime"),
    ("a fox, oil on canvas", "oil painting"), ("a photo of a temple", "photographic"),
])
def test_presets_are_selected_by_words_in_the_message(text, preset):
    assert Refiner().refine(text, _generation(text)).style == preset


def test_presets_live_in_the_store_and_count_their_uses(tmp_path):
    store_module = pytest.importorskip("pipeline.store")
    store = store_module.Store(tmp_path / "db.sqlite3", tmp_path / "images")
    try:
        assert seed_templates(store) == len(PRESETS)
        assert seed_templates(store) == len(PRESETS)  # idempotent upsert
        assert len(store.list_templates()) == len(PRESETS)
        refiner = Refiner(store=store)
        refiner.refine("a fox, watercolor", _generation("a fox, watercolor"))
        refiner.refine("a heron in watercolour", _generation("a heron in watercolour"))
        refiner.refine("a plain heron", _generation("a plain heron"))
        assert store.get_template("watercolor")["usage_count"] == 2
        # An edited row in the table changes the prompt: presets are data, not code.
        store.upsert_template("watercolor", template="{prompt}, soggy paper", tags=["watercolor"], negative="ink")
        result = refiner.refine("a fox, watercolor", _generation("a fox, watercolor"))
        assert result.prompt == "a fox, soggy paper" and result.negative == "ink"
        store.upsert_template("watercolor", template="{prompt}", tags=["watercolor"], is_active=False)
        assert refiner.refine("a fox, watercolor", _generation("a fox, watercolor")).style is None
    finally:
        store.close()
