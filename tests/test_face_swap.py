"""Face swap: text parsing, face/image selection, consent, the embedded landmark swap on real photos, and the
InsightFace backend's I/O contract on tiny ONNX stand-ins built here (nothing is downloaded).

Real photos ship in packages: matplotlib's grace_hopper.jpg is the source face, scikit-image's astronaut the
target. The landmark checks use dlib (68 points + the 128-d face embedding shipped in face_recognition_models).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from core.errors import Cancelled, ConsentRequired, InvalidInput, MissingInput, NothingFound
from models.cache import ModelCache
from models.contracts import DOWNLOADABLE, MISSING, READY, CapabilityRequest, InputImage
from models.face_swap import capability
from models.face_swap.flow import CONSENT_KEY, PROVENANCE
from models.face_swap.selection import DetectedFace, choose_images, select_faces
from models.face_swap.text_params import parse_params
from models.registry import Registry

ROOT = Path(__file__).resolve().parent.parent


# ---- fixtures ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def grace():
    import matplotlib
    from PIL import Image

    return Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")


@pytest.fixture(scope="module")
def dlib_faces():
    import cv2

    from models.face_swap.landmark_swap import DlibFaces, packaged_model_dir

    cv2.setNumThreads(1)
    return DlibFaces(packaged_model_dir(), with_embedding=True)


def _registry(settings) -> Registry:
    registry = Registry(ModelCache(2**30))
    registry.add(capability(settings))
    return registry


def _request(images, text="swap the faces", params=None, **kwargs) -> CapabilityRequest:
    from PIL import Image

    inputs = [img if isinstance(img, InputImage) else
              InputImage(img if isinstance(img, Image.Image) else Image.fromarray(img), role="attachment")
              for img in images]
    kwargs.setdefault("context", {"consent": True})
    return CapabilityRequest("face_swap", text, params=dict(params if params is not None else parse_params(text)),
                             images=inputs, **kwargs)


@pytest.fixture(scope="module")
def landmark_registry(tmp_path_factory):
    from core.settings import Settings

    return _registry(Settings.from_env({}, data_dir=tmp_path_factory.mktemp("data")))


@pytest.fixture(scope="module")
def swapped(landmark_registry, grace, astronaut):
    """Grace Hopper's face (attachment) onto the astronaut (the session's latest image), as the pipeline calls it."""
    request = _request([InputImage(grace, None, role="attachment"),
                        InputImage(astronaut, "a" * 64, {"capability": "image_generation"}, role="latest")],
                       text="put this face on the image you just made", session_metadata={CONSENT_KEY: True},
                       context={})
    return landmark_registry.run(request)


def _five_points(points68: np.ndarray) -> np.ndarray:
    return np.array([points68[36:42].mean(0), points68[42:48].mean(0), points68[30], points68[48], points68[54]],
                    np.float32)


def _eye_distance(points68: np.ndarray) -> float:
    return float(np.linalg.norm(points68[36:42].mean(0) - points68[42:48].mean(0)))


# ---- text → parameters --------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("swap my face onto this photo", {}),
    ("faceswap please", {}),
    ("put this face on the image you just made", {"target_image": "latest"}),
    ("make the person in the last image have my face", {"target_image": "latest"}),
    ("use the face from the first image on the second one", {"source_image": "first", "target_image": "second"}),
    ("put the face from the second image onto the first", {"source_image": "second", "target_image": "first"}),
    ("replace the face in the second photo with the face from the first",
     {"target_image": "second", "source_image": "first"}),
    ("swap the face in the second image with mine", {"target_image": "second"}),
    ("put my face on the man in the second picture", {"face_gender": "male", "target_image": "second"}),
    ("swap the man on the left", {"face_target": "left", "face_gender": "male"}),
    ("only the woman on the right", {"face_target": "right", "face_gender": "female"}),
    ("the middle one", {"face_target": "middle"}),
    ("swap all faces", {"face_target": "all"}),
    ("put my face on everyone", {"face_target": "all"}),
    ("the second face from the right", {"face_target": "right", "face_index": 2}),
    ("swap the 3rd person", {"face_index": 3}),
])
def test_parse_params_reads_which_faces_and_images(text, expected):
    assert parse_params(text) == expected


# ---- which faces, which images ----------------------------------------------------------------------------
def _faces(*specs):
    return [DetectedFace((x, 0, x + size, size), None, gender) for x, size, gender in specs]


def test_select_faces_by_size_position_count_and_gender():
    faces = _faces((300, 50, "female"), (0, 80, "male"), (600, 60, "male"))  # x order: 1, 0, 2
    pick = lambda params, gender=True: select_faces(faces, params, can_tell_gender=gender)[0]  # noqa: E731
    assert pick({}) == [1]
    assert pick({"face_target": "left"}) == [1]
    assert pick({"face_target": "right"}) == [2]
    assert pick({"face_target": "middle"}) == [0]
    assert pick({"face_target": "smallest"}) == [0]
    assert sorted(pick({"face_target": "all"})) == [0, 1, 2]
    assert pick({"face_index": 2}) == [0]
    assert pick({"face_target": "right", "face_index": 2}) == [0]
    assert pick({"face_target": "right", "face_gender": "female"}) == [0]  # the only woman
    assert pick({"face_target": "right", "face_gender": "female"}, gender=False) == [2]
    assert select_faces(faces, {"face_target": "left"}, can_tell_gender=False)[1] == "the face on the left"
    with pytest.raises(InvalidInput, match="only 3"):
        pick({"face_index": 4})


def test_choose_images_first_is_source_unless_the_text_says_otherwise():
    a, b = InputImage("A", role="attachment"), InputImage("B", role="attachment")
    latest = InputImage("L", "id", role="latest")
    assert (choose_images([a, b], {}).source.image, choose_images([a, b], {}).target.image) == ("A", "B")
    reverse = choose_images([a, b], {"source_image": "second"})
    assert (reverse.source.image, reverse.target.image, reverse.target_label) == ("B", "A", "the first image")
    onto_latest = choose_images([a, latest], {"target_image": "latest"})
    assert (onto_latest.source.image, onto_latest.target.image) == ("A", "L")
    assert onto_latest.target_label == "the latest image of this chat"
    from_latest = choose_images([a, latest], {"source_image": "latest"})
    assert (from_latest.source.image, from_latest.target.image) == ("L", "A")
    with pytest.raises(InvalidInput):
        choose_images([a, b], {"source_image": "first", "target_image": "first"})
    with pytest.raises(MissingInput, match="two images"):
        choose_images([a], {})


# ---- consent ------------------------------------------------------------------------------------------------
def test_swap_refuses_without_consent_even_through_the_api(landmark_registry, grace, astronaut):
    capability_spec = landmark_registry.get("face_swap")
    assert capability_spec.requires_consent == CONSENT_KEY and "right to use" in capability_spec.consent_text
    with pytest.raises(ConsentRequired) as refused:
        landmark_registry.run(_request([grace, astronaut], context={}, session_metadata={}))
    assert refused.value.consent_key == CONSENT_KEY
    assert refused.value.confirm_label == "I have the right to use these faces"
    with pytest.raises(ConsentRequired):
        landmark_registry.run(_request([grace, astronaut], context={"consent": False},
                                       session_metadata={CONSENT_KEY: "false"}))


def test_consent_from_the_call_context_is_stored_on_the_session(landmark_registry, grace, astronaut):
    result = landmark_registry.run(_request([grace, astronaut], context={"consent": True}))
    assert result.session_updates == {CONSENT_KEY: True}
    assert result.images[0].recipe["consent"] == "context"


# ---- the embedded landmark swap on real photos ---------------------------------------------------------------
def test_swap_result_carries_provenance_recipe_and_parents(swapped, astronaut):
    from core.images import encode_png, png_text

    assert swapped.backend == "dlib_landmarks" and swapped.type == "image"
    assert "iBUG 300-W" in swapped.metadata["licence"]  # the landmark weights' training-data terms are shown
    assert swapped.session_updates == {}  # consent came from the session already
    out = swapped.images[0]
    assert out.image.size == astronaut.size and out.image.mode == "RGB"
    assert out.png_text == {"ai_edit": PROVENANCE}
    assert out.parent_ids == ["a" * 64]  # the attachment has no store id yet
    recipe = out.recipe
    assert recipe["operation"] == "face_swap" and recipe["provenance"] == PROVENANCE
    assert recipe["target_image"] == "the latest image of this chat" and recipe["source_image"] == "the first image"
    assert recipe["faces_swapped"] == 1 and recipe["model_id"].endswith("shape_predictor_68_face_landmarks.dat")
    assert "latest image" in swapped.message and PROVENANCE in swapped.message
    assert png_text(encode_png(out.image, text=out.png_text))["ai_edit"] == PROVENANCE


def test_pixels_outside_the_target_face_hull_are_bit_identical(swapped, astronaut, dlib_faces):
    from models.face_swap.landmark_swap import hull_mask

    target = np.asarray(astronaut)
    result = np.asarray(swapped.images[0].image)
    hull = hull_mask(target.shape, dlib_faces.detect(target)[0].points) > 0
    assert np.array_equal(result[~hull], target[~hull])
    assert np.abs(result[hull].astype(int) - target[hull]).mean() > 8  # the face itself did change


def test_swapped_face_keeps_the_target_geometry(swapped, astronaut, dlib_faces):
    target_points = dlib_faces.detect(np.asarray(astronaut))[0].points
    found = dlib_faces.detect(np.asarray(swapped.images[0].image))
    assert len(found) == 1
    error = np.linalg.norm(found[0].points - target_points, axis=1).mean()
    assert error < 0.12 * _eye_distance(target_points)


def test_swapped_face_looks_more_like_the_source(swapped, grace, astronaut, dlib_faces):
    source, target = np.asarray(grace), np.asarray(astronaut)
    result = np.asarray(swapped.images[0].image)
    e_source = dlib_faces.embedding(source, dlib_faces.detect(source)[0])
    e_target = dlib_faces.embedding(target, dlib_faces.detect(target)[0])
    e_result = dlib_faces.embedding(result, dlib_faces.detect(result)[0])
    before, after = np.linalg.norm(e_target - e_source), np.linalg.norm(e_result - e_source)
    assert after < before - 0.1, (before, after)


def test_no_face_reply_names_the_image(landmark_registry, grace, astronaut):
    from skimage import data

    no_face = data.coffee()
    with pytest.raises(NothingFound, match="no face in the first image"):
        landmark_registry.run(_request([no_face, astronaut]))
    with pytest.raises(NothingFound, match="no face in the second image") as second:
        landmark_registry.run(_request([grace, no_face]))
    assert second.value.details["role"] == "target"


def test_choose_which_faces_in_a_group_photo(landmark_registry, grace, astronaut, dlib_faces):
    from models.face_swap.landmark_swap import hull_mask

    left = np.asarray(astronaut.resize((256, 256)))
    group = np.concatenate([left, left[:, ::-1]], axis=1)  # two people side by side
    faces = sorted(dlib_faces.detect(group), key=lambda f: f.center_x)
    assert len(faces) == 2
    hulls = [hull_mask(group.shape, f.points) > 0 for f in faces]

    only_left = np.asarray(landmark_registry.run(_request([grace, group], "swap the one on the left")).images[0].image)
    assert not np.array_equal(only_left[hulls[0]], group[hulls[0]])
    assert np.array_equal(only_left[~hulls[0]], group[~hulls[0]])

    result = landmark_registry.run(_request([grace, group], "put her face on all faces"))
    both = np.asarray(result.images[0].image)
    assert result.images[0].recipe["faces_swapped"] == 2
    assert all(not np.array_equal(both[h], group[h]) for h in hulls)
    outside = ~(hulls[0] | hulls[1])
    assert np.array_equal(both[outside], group[outside])


def test_cancelled_swap_raises(landmark_registry, grace, astronaut):
    event = threading.Event()
    event.set()
    with pytest.raises(Cancelled):
        landmark_registry.run(_request([grace, astronaut], cancel_event=event))


def test_rgba_target_keeps_its_alpha(landmark_registry, grace, astronaut):
    target = astronaut.convert("RGBA")
    target.putalpha(200)
    out = landmark_registry.run(_request([grace, target])).images[0].image
    assert out.mode == "RGBA" and out.getchannel("A").getextrema() == (200, 200)


def test_importing_the_capability_loads_no_heavy_library():
    code = ("import sys, models.face_swap as m; from core.settings import Settings; "
            "[b.status() for b in m.capability(Settings()).backends]; "
            "print(sorted(x for x in ('torch', 'cv2', 'dlib', 'onnxruntime', 'insightface', 'spandrel', 'gradio') "
            "if x in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ---- the opt-in InsightFace backend ---------------------------------------------------------------------------
def test_insightface_is_opt_in_and_shows_its_licence(settings):
    backend = capability(settings).backends[0]
    described = backend.describe()
    assert backend.name == "insightface" and described["status"] == MISSING
    assert "opt-in" in described["reason"] and "GATEWAY_FACE_SWAP_SWAPPER_MODEL" in described["fix"]
    assert "non-commercial" in described["licence"]
    assert capability(settings).backends[1].describe()["status"] == READY


def test_insightface_status_for_missing_and_not_yet_downloaded_weights(settings, tmp_path):
    from models.face_swap.insightface_backend import InsightFaceSwap

    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "det.onnx").write_bytes(b"x")
    missing = InsightFaceSwap(settings.replace(face_swap_insightface_pack=str(pack),
                                               face_swap_swapper_model=str(tmp_path / "nope.onnx")))
    assert missing.status().state == MISSING and "nope.onnx" in missing.status().reason
    not_fetched = InsightFaceSwap(settings.replace(face_swap_insightface_pack=str(pack),
                                                   face_swap_swapper_model="someone/face-models/inswapper_128.onnx"))
    assert not_fetched.status().state == DOWNLOADABLE
    assert not_fetched.status().fix == "python -m models.download face_swap"


@pytest.fixture(scope="module")
def insightface_setup(tmp_path_factory, grace, astronaut, dlib_faces):
    """Stand-in pack + swapper, and Grace Hopper aligned onto the astronaut's face position (one detector fits both)."""
    import cv2
    from PIL import Image

    from core.settings import Settings

    root = tmp_path_factory.mktemp("insightface")
    target = np.asarray(astronaut)
    target_face = dlib_faces.detect(target)[0]
    source = np.asarray(grace)
    matrix, _ = cv2.estimateAffinePartial2D(_five_points(dlib_faces.detect(source)[0].points),
                                            _five_points(target_face.points))
    aligned = cv2.warpAffine(source, matrix, target.shape[1::-1], borderMode=cv2.BORDER_REFLECT_101)
    build_detector(root / "pack" / "det_10g.onnx", target_face.box, _five_points(target_face.points), (512, 512))
    build_recognizer(root / "pack" / "w600k_r50.onnx")
    build_swapper(root / "inswapper_128.onnx")
    settings = Settings.from_env({}, data_dir=root / "data", face_swap_insightface_pack=str(root / "pack"),
                                 face_swap_swapper_model=str(root / "inswapper_128.onnx"))
    return {"settings": settings, "source": Image.fromarray(aligned), "target_face": target_face}


def test_insightface_backend_runs_the_onnx_contract(insightface_setup, astronaut):
    from insightface.utils.face_align import estimate_norm

    registry = _registry(insightface_setup["settings"])
    backend = registry.ready_backend("face_swap")
    assert backend.name == "insightface"
    result = registry.run(_request([insightface_setup["source"], astronaut]))
    assert result.backend == "insightface" and "non-commercial" in result.metadata["licence"]
    out = result.images[0]
    assert out.png_text == {"ai_edit": PROVENANCE} and out.recipe["weights_licence"] == backend.licence
    result_rgb, target = np.asarray(out.image).astype(int), np.asarray(astronaut).astype(int)
    # Only the aligned 128×128 crop that inswapper pasted back may change.
    kps = _five_points(insightface_setup["target_face"].points)
    inverse = np.linalg.inv(np.vstack([estimate_norm(kps, 128), [0, 0, 1]]))[:2]
    corners = np.array([[0, 0, 1], [128, 0, 1], [128, 128, 1], [0, 128, 1]], np.float64) @ inverse.T
    import cv2

    footprint = np.zeros(target.shape[:2], np.uint8)
    cv2.fillConvexPoly(footprint, np.round(corners).astype(np.int32), 1)
    footprint = cv2.dilate(footprint, np.ones((5, 5), np.uint8)) > 0
    assert np.array_equal(result_rgb[~footprint], target[~footprint])
    x1, y1, x2, y2 = insightface_setup["target_face"].box
    assert np.abs(result_rgb[y1 + 20:y2 - 20, x1 + 20:x2 - 20] - target[y1 + 20:y2 - 20, x1 + 20:x2 - 20]).mean() > 10


def test_insightface_no_face_names_the_image(insightface_setup, astronaut):
    registry = _registry(insightface_setup["settings"])
    black = np.zeros((512, 512, 3), np.uint8)
    with pytest.raises(NothingFound, match="no face in the second image"):
        registry.run(_request([insightface_setup["source"], black]))


def test_restoration_pastes_back_only_around_the_face(astronaut, dlib_faces):
    from models.face_swap.restore import CROP_SIZE, restore_faces

    target = np.asarray(astronaut)
    face = dlib_faces.detect(target)[0]
    seen = []

    def fake_restore(crop):
        seen.append(crop.shape)
        return 255 - crop

    out = restore_faces(target, [_five_points(face.points)], fake_restore, strength=1.0)
    assert seen == [(CROP_SIZE, CROP_SIZE, 3)]
    x1, y1, x2, y2 = face.box
    centre = (slice(y1 + 20, y2 - 20), slice(x1 + 20, x2 - 20))
    assert np.abs(out[centre].astype(int) - (255 - target[centre])).mean() < 12
    assert np.array_equal(out[:20], target[:20]) and np.array_equal(out[-100:], target[-100:])


def _real_insightface_settings():
    models = Path("~/.insightface/models").expanduser()
    pack = os.environ.get("GATEWAY_FACE_SWAP_INSIGHTFACE_PACK") or str(models / "buffalo_l")
    swapper = os.environ.get("GATEWAY_FACE_SWAP_SWAPPER_MODEL") or str(models / "inswapper_128.onnx")
    return pack, swapper


_REAL_PACK, _REAL_SWAPPER = _real_insightface_settings()


@pytest.mark.slow
@pytest.mark.skipif(not (Path(_REAL_PACK).is_dir() and Path(_REAL_SWAPPER).is_file()),
                    reason="real buffalo_l / inswapper_128 weights are not present (opt-in, never downloaded by tests)")
def test_insightface_real_weights_swap(settings, grace, astronaut, dlib_faces):
    registry = _registry(settings.replace(face_swap_insightface_pack=_REAL_PACK, face_swap_swapper_model=_REAL_SWAPPER))
    result = registry.run(_request([grace, astronaut]))
    assert result.backend == "insightface" and result.images[0].image.size == astronaut.size
    source, target = np.asarray(grace), np.asarray(astronaut)
    swapped = np.asarray(result.images[0].image)
    e_source = dlib_faces.embedding(source, dlib_faces.detect(source)[0])
    before = np.linalg.norm(dlib_faces.embedding(target, dlib_faces.detect(target)[0]) - e_source)
    after = np.linalg.norm(dlib_faces.embedding(swapped, dlib_faces.detect(swapped)[0]) - e_source)
    assert after < before


# ---- tiny ONNX stand-ins for the InsightFace models (I/O contract only) -------------------------------------
# build_detector: a static 640×640 SCRFD-shaped detector with 9 outputs (scores, box distances, 5 key points for
# strides 8/16/32, two anchors per cell) that "finds" one face at a given place unless the image is nearly black.
# build_recognizer: ArcFace-shaped (1×3×112×112 → 512), the embedding follows the crop's colours.
# build_swapper: inswapper-shaped (target 1×3×128×128 in [0, 1] + 512-d latent → 1×3×128×128), last initializer
# = the 512×512 emap; it tints the crop by a colour computed from the source latent.
DET_SIZE = 640
OPSET = 17


def _onnx():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    return onnx, TensorProto, helper, numpy_helper


def build_detector(path: Path, box, kps, image_size) -> Path:
    """A detector reporting one face at `box` (x1, y1, x2, y2) with 5 `kps`, both in pixels of an image of
    `image_size` (w, h) — the same place in every image of that size, unless the image is nearly black."""
    onnx, TensorProto, helper, numpy_helper = _onnx()
    w, h = image_size
    scale = DET_SIZE / max(w, h)
    box = np.asarray(box, np.float32) * scale
    kps = np.asarray(kps, np.float32).reshape(5, 2) * scale
    stride = 32
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    gx, gy = int(round(cx / stride)), int(round(cy / stride))
    ax, ay = gx * stride, gy * stride
    nodes, inits, outputs = [], [], []
    # gate = sigmoid(10 * (mean(normalised input) + 0.8)): ~0 for a black image, ~1 for a photo.
    inits += [numpy_helper.from_array(np.array(10.0, np.float32), "ten"),
              numpy_helper.from_array(np.array(0.8, np.float32), "offset")]
    nodes += [helper.make_node("ReduceMean", ["input.1"], ["mean"], keepdims=0),
              helper.make_node("Add", ["mean", "offset"], ["shifted"]),
              helper.make_node("Mul", ["shifted", "ten"], ["logit"]),
              helper.make_node("Sigmoid", ["logit"], ["gate"])]
    tensors = {"score": [], "bbox": [], "kps": []}
    for s in (8, 16, 32):
        n = (DET_SIZE // s) ** 2 * 2
        score, bbox, points = np.zeros((n, 1), np.float32), np.zeros((n, 4), np.float32), np.zeros((n, 10), np.float32)
        if s == stride:
            i = (gy * (DET_SIZE // s) + gx) * 2
            score[i, 0] = 0.95
            bbox[i] = [(ax - box[0]) / s, (ay - box[1]) / s, (box[2] - ax) / s, (box[3] - ay) / s]
            points[i] = ((kps - np.array([ax, ay], np.float32)) / s).reshape(-1)
        for kind, value in (("score", score), ("bbox", bbox), ("kps", points)):
            tensors[kind].append((f"{kind}_{s}", value))
    for kind in ("score", "bbox", "kps"):
        for name, value in tensors[kind]:
            inits.append(numpy_helper.from_array(value, name + "_const"))
            if kind == "score":
                nodes.append(helper.make_node("Mul", [name + "_const", "gate"], [name]))
            else:
                nodes.append(helper.make_node("Identity", [name + "_const"], [name]))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    graph = helper.make_graph(nodes, "tiny_scrfd", [helper.make_tensor_value_info(
        "input.1", TensorProto.FLOAT, [1, 3, DET_SIZE, DET_SIZE])], outputs, inits)
    return _save(graph, path)


def build_recognizer(path: Path, seed: int = 0) -> Path:
    onnx, TensorProto, helper, numpy_helper = _onnx()
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.normal(size=(3, 512)).astype(np.float32), "proj"),
             numpy_helper.from_array(rng.normal(size=(512,)).astype(np.float32) * 0.1, "bias")]
    nodes = [helper.make_node("GlobalAveragePool", ["data"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
             helper.make_node("MatMul", ["flat", "proj"], ["projected"]),
             helper.make_node("Add", ["projected", "bias"], ["fc1"])]
    graph = helper.make_graph(nodes, "tiny_arcface", [helper.make_tensor_value_info(
        "data", TensorProto.FLOAT, ["None", 3, 112, 112])], [helper.make_tensor_value_info(
            "fc1", TensorProto.FLOAT, ["None", 512])], inits)
    return _save(graph, path)


def build_swapper(path: Path, seed: int = 1) -> Path:
    onnx, TensorProto, helper, numpy_helper = _onnx()
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.normal(size=(512, 3)).astype(np.float32) * 3, "colour_proj"),
             numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "colour_shape"),
             numpy_helper.from_array(np.array(0.4, np.float32), "keep"),
             numpy_helper.from_array(np.array(0.6, np.float32), "tint"),
             # INSwapper reads the last initializer as `emap`, the latent projection of the source embedding.
             numpy_helper.from_array(np.linalg.qr(rng.normal(size=(512, 512)))[0].astype(np.float32), "emap")]
    nodes = [helper.make_node("MatMul", ["source", "colour_proj"], ["colour_logits"]),
             helper.make_node("Sigmoid", ["colour_logits"], ["colour"]),
             helper.make_node("Reshape", ["colour", "colour_shape"], ["colour_map"]),
             helper.make_node("Mul", ["target", "keep"], ["kept"]),
             helper.make_node("Mul", ["colour_map", "tint"], ["tinted"]),
             helper.make_node("Add", ["kept", "tinted"], ["output"])]
    graph = helper.make_graph(nodes, "tiny_inswapper", [
        helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128]),
        helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 128, 128])], inits)
    return _save(graph, path)


def _save(graph, path: Path) -> Path:
    onnx, *_ = _onnx()
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("direction", ["grace onto the astronaut", "the astronaut onto grace"])
def test_the_blend_keeps_the_source_detail_and_takes_the_target_skin_and_light(grace, astronaut, dlib_faces, direction):
    """The swapped face keeps the source's fine detail (Poisson cloning used to smooth it: 0.61 of the warped
    face's Laplacian energy, and to ghost Grace Hopper's glasses) and its skin takes the target's colour and
    lightness (the old blend left the astronaut 11 Lab units off Grace's skin in a and b, and 11 in L)."""
    import cv2

    from models.face_swap.landmark_swap import _skin_mask, _triangles, _warp_triangles, hull_mask, swap_face

    source, target = np.asarray(grace), np.asarray(astronaut)
    if direction.startswith("the astronaut"):
        source, target = target, source
    s_face, t_face = dlib_faces.detect(source)[0], dlib_faces.detect(target)[0]
    result = swap_face(source, s_face, target, t_face)
    warped = _warp_triangles(source, s_face.points, target.shape, t_face.points, _triangles(s_face.points, t_face.points))
    core = cv2.erode(hull_mask(target.shape, t_face.points), np.ones((25, 25), np.uint8)) > 0

    def detail(rgb):
        return cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)[core].var()

    assert detail(result) > 0.68 * detail(warped)
    skin = (_skin_mask(hull_mask(target.shape, t_face.points), t_face.points) > 0) & core
    result_lab, target_lab, warped_lab = (cv2.cvtColor(img, cv2.COLOR_RGB2LAB).astype(np.float32)[skin].mean(axis=0)
                                          for img in (result, target, warped))
    assert np.linalg.norm(warped_lab[1:] - target_lab[1:]) > 15  # the two skins really differ…
    assert np.linalg.norm(result_lab[1:] - target_lab[1:]) < 4  # …and the swapped face has the target's
    assert abs(result_lab[0] - target_lab[0]) < 4


@pytest.mark.parametrize("direction", ["grace onto the astronaut", "the astronaut onto grace"])
def test_the_swap_keeps_the_target_mouth_interior(grace, astronaut, dlib_faces, direction):
    """The target's own teeth and mouth opening stay: the astronaut's smiling teeth pasted into Grace Hopper's
    closed mouth showed through her lips, and Grace's closed lips pasted over the astronaut's smile hid hers."""
    import cv2

    from models.face_swap.landmark_swap import swap_face

    source, target = np.asarray(grace), np.asarray(astronaut)
    if direction.startswith("the astronaut"):
        source, target = target, source
    s_face, t_face = dlib_faces.detect(source)[0], dlib_faces.detect(target)[0]
    result = swap_face(source, s_face, target, t_face)
    mouth = np.zeros(target.shape[:2], np.uint8)
    cv2.fillPoly(mouth, [np.round(t_face.points[60:68]).astype(np.int32)], 1)
    mouth = cv2.erode(mouth, np.ones((3, 3), np.uint8)) > 0
    if mouth.sum() < 20:  # a closed mouth: its lips' line, a few pixels around the inner-lip points
        mouth = np.zeros(target.shape[:2], np.uint8)
        cv2.polylines(mouth, [np.round(t_face.points[60:68]).astype(np.int32)], True, 1, 1)
        mouth = mouth > 0
    difference = np.abs(result[mouth].astype(int) - target[mouth].astype(int)).mean()
    assert difference < 6, difference
    hull = cv2.erode(cv2.fillConvexPoly(np.zeros(target.shape[:2], np.uint8),
                                        cv2.convexHull(np.round(t_face.points).astype(np.int32)), 1),
                     np.ones((25, 25), np.uint8)) > 0
    assert np.abs(result[hull & ~mouth].astype(int) - target[hull & ~mouth].astype(int)).mean() > 8  # face swapped
