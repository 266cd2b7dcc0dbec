"""The chips under a reply, one test per rule of pipeline/run/suggest.py, on the real store, registry and router.

Every chip a reply offers is also sent back through the pipeline where that matters, so "the chip works" is
checked by running it, not by looking at its label.
"""


import numpy as np
import pytest
from PIL import Image

from core.images import recipe_from_png
from models.cache import ModelCache
from models.contracts import MISSING, Backend, BackendStatus
from models.registry import build_registry
from pipeline.boundary.identity import owner_from_token
from pipeline.run.response import Response
from pipeline.run.suggest import MAX_CHIPS, ChipPolicy, is_advice, is_operator_fix
from tests.pipeline_util import make_pipeline
from tests.image_util import png

ALICE = owner_from_token("alice-token-12345", "secret")


class _NoWeights(Backend):
    name = "diffusers"
    capability = "image_generation"

    def status(self):
        return BackendStatus(MISSING, "the weights of stabilityai/sd-turbo are not in the Hugging Face cache and "
                             "the Hub is off (HF_HUB_OFFLINE)", "python -m models.download image_generation")


@pytest.fixture
def pipe(settings):
    registry = build_registry(settings, ModelCache(2**30))
    registry.get("image_generation").backends[:] = [_NoWeights(settings)]  # no text-to-image model here
    pipeline, store = make_pipeline(settings, registry=registry)
    yield pipeline
    store.close()


def send(pipe, text, session_id="", images=(), **context):
    return pipe.process_message(text, session_id, list(images), {"owner": ALICE, **context})


def chips(reply):
    return reply.metadata["chips"]


def click(pipe, reply, chip):
    return send(pipe, chip["message"], reply.session_id, **chip["context"])


@pytest.fixture(scope="module")
def cat():
    from skimage import data

    return Image.fromarray(data.chelsea())


# ---- the "Done when" line ------------------------------------------------------------------------------------------
def test_text_only_dragon_without_a_model_is_one_plain_sentence_and_chips_that_work(pipe):
    reply = send(pipe, "create a fantasy dragon")
    assert reply.type == "error" and reply.error["code"] == "capability_unavailable"
    assert reply.message == "Image generation isn't set up on this server yet."
    for word in ("HF_HUB_OFFLINE", "cache", "TAESD", "python -m"):
        assert word not in reply.message
    assert "python -m models.download image_generation" in reply.error["operator"] + " ".join(reply.error["fixes"])
    labels = [c["label"] for c in chips(reply)]
    assert labels and not any("Swap a face" in label or "Remove the background" in label for label in labels), labels
    assert not any("dragon" in label.lower() for label in labels)
    for chip in chips(reply):
        answer = click(pipe, reply, chip)
        assert answer.type != "error", (chip, answer.message)


# ---- rule 1: only what can run --------------------------------------------------------------------------------------
def test_no_chip_for_an_unavailable_capability(pipe, cat):
    reply = send(pipe, "make it black and white", images=[png(cat)])
    assert reply.type == "image"
    forced = {c["context"].get("force_intent") for c in chips(reply)}
    assert "image_generation" not in forced
    assert not any("variation" in c["label"].lower() for c in chips(reply))  # "Make variations" needs generation


def test_no_override_that_needs_images_the_message_does_not_have(pipe):
    reply = send(pipe, "remove the background")  # text only: background removal asks for an image
    assert reply.type == "error" and reply.error["code"] == "missing_input"
    for chip in chips(reply):
        assert chip["context"].get("force_intent") not in {"face_swap", "background_removal", "upscale",
                                                            "object_removal", "style_transfer", "image_edit"}, chip
    assert "Create a fantasy dragon" in reply.error["suggestions"]  # proposed, but generation cannot run here…
    assert not any("dragon" in c["label"].lower() for c in chips(reply))  # …so it is not offered


def test_advice_stays_a_tip_and_is_not_a_button(pipe, cat):
    reply = send(pipe, "apply the style of the second image to the first", images=[png(cat)])  # one image only
    assert reply.type == "error" and reply.error["code"] == "missing_input", reply.message
    assert "Attach the photo and the painting together." in reply.metadata["tips"]
    assert not any(is_advice(c["label"]) for c in chips(reply)), chips(reply)


def test_a_cat_photo_never_offers_swap_a_face(pipe, cat):
    for text in ("make it pop", "make it brighter", "upscale it"):
        reply = send(pipe, text, images=[png(cat)])
        assert not any("Swap a face" in c["label"] for c in chips(reply)), (text, chips(reply))


# ---- rule 2: plausible overrides only ------------------------------------------------------------------------------
def test_overrides_only_for_plausible_runner_ups(pipe, cat):
    unsure = send(pipe, "make it pop", images=[png(cat)])  # the router hesitates between an edit and a style
    overrides = [c for c in chips(unsure) if c["kind"] == "override"]
    assert [c["context"]["force_intent"] for c in overrides][:1] == ["style_transfer"]
    sure = send(pipe, "make it brighter", images=[png(cat)])  # an exact rule, and no cue for anything else
    assert not [c for c in chips(sure) if c["kind"] == "override"], chips(sure)


# ---- rule 3: no duplicates -----------------------------------------------------------------------------------------
def test_duplicates_are_merged(pipe, cat):
    reply = send(pipe, "remove the background", images=[png(cat)])
    assert reply.type == "image", reply.message
    labels = [c["label"] for c in chips(reply)]
    assert "White background" in labels and "Put it on a white background" not in labels, labels
    assert sum("pscale" in label for label in labels) == 1, labels


# ---- rule 4: at most five, most useful first -----------------------------------------------------------------------
class _Registry:
    """Just enough registry for ChipPolicy: everything available, no image needed."""

    def __init__(self, real):
        self.real = real

    def available_names(self):
        return set(self.real.names())

    def get(self, name):
        return self.real.get(name)

    def __iter__(self):
        return iter(self.real)


def test_at_most_five_chips_in_order_of_use(pipe):
    policy = ChipPolicy(_Registry(pipe.registry), pipe.router)
    variants = [{"id": f"style:{k}", "label": label, "message": f"make it look like {label}",
                 "context": {"force_intent": "style_transfer", "params": {"style_key": k}}}
                for k, label in [("mosaic", "Mosaic"), ("starry_night", "Van Gogh"), ("sketch", "Pencil sketch")]]
    override = {"id": "reroute:image_edit", "label": "Not what I meant → Basic edit", "message": "make it pop",
                "probability": 0.3, "context": {"force_intent": "image_edit", "image_ids": ["a" * 64]}}
    response = Response(session_id="s", message_id=None, type="image", message="Done.",
                        metadata={"intent": "style_transfer", "router": "minilm+lexical",
                                  "inputs_at_hand": {"attachments": ["a" * 64], "latest": None}},
                        actions=variants + [override],
                        suggestions=["Upscale it 2x", "Remove the background", "Make it black and white",
                                     "Crop it to a square"])
    policy.finalize(response, [])
    kinds = [c["kind"] for c in response.metadata["chips"]]
    assert len(kinds) == MAX_CHIPS
    assert kinds == sorted(kinds, key=["variant", "follow_up", "override"].index)
    assert kinds[:3] == ["variant"] * 3


# ---- rule 5: bound to the image they were offered for --------------------------------------------------------------
def test_chips_after_show_the_mask_act_on_the_photo_not_on_the_mask(pipe, cat):
    cutout = send(pipe, "remove the background", images=[png(cat)])
    photo_id = cutout.metadata["inputs_at_hand"]["attachments"][0]
    show_mask = next(c for c in chips(cutout) if c["label"] == "Show the mask")
    mask_reply = click(pipe, cutout, show_mask)
    assert mask_reply.type == "image"
    mask = np.asarray(Image.open(mask_reply.images[0].path).convert("L"))
    assert set(np.unique(mask)) <= set(range(256)) and mask_reply.images[0].id != photo_id
    for chip in chips(mask_reply):
        assert mask_reply.images[0].id not in chip["context"].get("image_ids", []), chip  # never the mask
    white = next(c for c in chips(mask_reply) if "white" in c["label"].lower())
    assert white["context"]["image_ids"] == [photo_id]
    on_white = click(pipe, mask_reply, white)
    out = np.asarray(Image.open(on_white.images[0].path).convert("RGB")).astype(int)
    # the cat on white: plenty of colour left (a mask on white would be grey levels only)
    assert np.abs(out[..., 0] - out[..., 2]).mean() > 5


def test_follow_ups_are_bound_to_the_result(pipe, cat):
    reply = send(pipe, "rotate it 90 degrees", images=[png(cat)])
    follow = [c for c in chips(reply) if c["kind"] == "follow_up"]
    assert follow and all(c["context"]["image_ids"] == [reply.images[0].id] for c in follow)


def test_after_a_plan_chips_act_on_the_final_image(pipe, cat):
    reply = send(pipe, "mirror it and then upscale it 2x", images=[png(cat)])
    assert [s["status"] for s in reply.metadata["plan"]] == ["done", "done"], reply.message
    mirrored, final = reply.images
    follow = [c for c in chips(reply) if c["kind"] == "follow_up"]
    assert follow and all(c["context"]["image_ids"] == [final.id] for c in follow), follow
    sharpen = next(c for c in follow if "harpen" in c["label"])
    sharper = click(pipe, reply, sharpen)
    assert sharper.type == "image", sharper.message
    assert recipe_from_png(sharper.images[0].path)["parent_ids"] == [final.id]
    assert (sharper.images[0].width, sharper.images[0].height) == (final.width, final.height)


def test_another_style_restyles_the_image_the_style_was_applied_to(pipe, cat):
    reply = send(pipe, "make it look like a pencil sketch", images=[png(cat)])
    assert reply.type == "image", reply.message
    photo_id = reply.metadata["inputs_at_hand"]["attachments"][0]
    styles = [c for c in chips(reply) if c.get("context", {}).get("force_intent") == "style_transfer"
              or "style" in c["label"].lower()]
    assert styles and all(c["context"]["image_ids"] == [photo_id] for c in styles), styles
    other = next(c for c in styles if c["kind"] == "follow_up")
    again = click(pipe, reply, other)
    assert again.type == "image", again.message
    assert recipe_from_png(again.images[0].path)["parent_ids"][:1] == [photo_id]  # the photo, not the sketch
    upscale = next(c for c in chips(reply) if "pscale" in c["label"])
    assert upscale["context"]["image_ids"] == [reply.images[0].id]  # what builds on the result stays on it


def test_after_a_plan_another_style_restyles_that_steps_input(pipe, cat):
    reply = send(pipe, "flip it, then make it look like a mosaic", images=[png(cat)])
    flipped, styled = reply.images
    restyle = [c for c in chips(reply) if c["kind"] == "follow_up" and "style" in c["label"].lower()]
    assert restyle and all(c["context"]["image_ids"] == [flipped.id] for c in restyle), chips(reply)


# ---- rule 6: nothing just done again ---------------------------------------------------------------------------------
def test_no_chip_repeats_what_was_just_done(pipe, cat):
    white = send(pipe, "put it on a white background", images=[png(cat)])
    assert white.type == "image", white.message
    labels = [c["label"].lower() for c in chips(white)]
    assert not any("white background" in label for label in labels), labels
    assert any("transparent" in label for label in labels), labels  # a different background is still offered
    plan = send(pipe, "remove the background, then upscale it 2x", images=[png(cat)])
    labels = [c["label"].lower() for c in chips(plan)]
    assert labels and not any("remove the background" in label or "upscale" in label for label in labels), labels
    grey = send(pipe, "make it black and white", images=[png(cat)])
    assert not any("black and white" in c["label"].lower() for c in chips(grey)), chips(grey)


# ---- rule 7: one brush chip ------------------------------------------------------------------------------------------
def test_paint_it_instead_is_the_one_brush_chip_on_the_erased_photo(pipe):
    policy = ChipPolicy(_Registry(pipe.registry), pipe.router)
    photo = "b" * 64
    paint = {"id": "paint_instead", "label": "Paint it instead", "message": "erase what I painted",
             "context": {"force_intent": "object_removal"}}
    response = Response(session_id="s", message_id=None, type="image", message="Erased the cup.",
                        metadata={"intent": "object_removal", "capability": "object_removal", "router": "rule:x",
                                  "inputs_at_hand": {"attachments": [photo], "latest": None}},
                        actions=[paint, {**paint, "label": "Erase by painting"}],
                        suggestions=["Erase something else", "Upscale it"])
    policy.finalize(response, [])
    brushes = [c for c in response.metadata["chips"] if c["context"].get("ui") == "brush"]
    assert len(brushes) == 1 and brushes[0]["label"] == "Paint it instead" and brushes[0]["kind"] == "brush"
    assert brushes[0]["context"]["image_id"] == photo and brushes[0]["context"]["image_ids"] == [photo]
    assert all(set(c) == {"id", "label", "message", "context", "kind"} for c in response.metadata["chips"])


# ---- what never becomes a chip ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["pip install opencv-python-headless", "python -m models.download face_swap",
                                  "run python -m models.download image_generation on a machine with internet access",
                                  "Set GATEWAY_T2I_MODEL to a local folder"])
def test_operator_commands_are_recognised(text):
    assert is_operator_fix(text)


@pytest.mark.parametrize("text", ["Attach a photo and say 'remove the background'.",
                                  "Say 'all faces', 'the one on the left' or 'the middle one' to swap other faces",
                                  "Or attach the face and say 'put this face on the last image'.",
                                  "Try a photo where the subject stands out from the background.",
                                  "Use a photo where the face is clear, facing the camera and not too small.",
                                  "Paint a smaller area over just the object.", "Shorten the message and send it again.",
                                  "Generate an image first, then ask for variations."])
def test_advice_is_recognised(text):
    assert is_advice(text) and not is_operator_fix(text)


@pytest.mark.parametrize("text", ["Upscale it 2x", "Remove the background", "Make it look like Van Gogh",
                                  "Put it on a white background", "Crop it to a square", "What can you do?"])
def test_requests_are_neither(text):
    assert not is_advice(text) and not is_operator_fix(text)
