"""The upscale capability: text parsing, factor rules, tiling, the embedded ncnn models on real photos, the
spandrel path with tiny random models saved by the test, the labelled Lanczos fallback, and statuses."""

import threading

import numpy as np
import pytest
from PIL import Image

from core.errors import Cancelled, InvalidInput
from models.cache import ModelCache
from models.contracts import DOWNLOADABLE, MISSING, READY, BackendStatus, CapabilityRequest, InputImage
from models.registry import Registry
from models.upscale import capability
from models.upscale.common import choose_factor, passes_needed
from models.upscale.ncnn_backend import NcnnUpscaler
from models.upscale.params import parse_upscale_params
from models.upscale.tiling import upscale_tiled, upscale_with_oom_retry


def _psnr(a, b) -> float:
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return 10 * np.log10(255.0 ** 2 / np.mean(diff ** 2))


def _registry(settings):
    registry = Registry(ModelCache(2**30))
    registry.add(capability(settings))
    return registry


def _request(image, text="upscale it", image_id="parent-sha", **params):
    """The request the pipeline builds: the router's extraction (the factor) with the capability's (the variant)."""
    from pipeline.understand.params import extract_params

    params = {**{k: v for k, v in extract_params(text, "upscale").items() if k == "scale"},
              **parse_upscale_params(text), **params}
    return CapabilityRequest("upscale", text, params=params, images=[InputImage(image, image_id, role="attachment")])


def _degraded(photo: Image.Image, side: int, factor: int) -> tuple[Image.Image, Image.Image]:
    """(ground truth side x side, its bicubic downscale by `factor`)."""
    truth = photo.convert("RGB").resize((side, side), Image.Resampling.LANCZOS)
    return truth, truth.resize((side // factor, side // factor), Image.Resampling.BICUBIC)


# ---- text and factor rules --------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("upscale this image 4x", {"scale": 4}),
    ("can you make this image twice as big without losing quality", {"scale": 2}),
    ("make the last image 4 times larger", {"scale": 4}),
    ("increase resolution 2x", {"scale": 2}),
    ("upscale by 300%", {"scale": 3}),
    ("quadruple the anime drawing", {"scale": 4, "variant": "anime"}),
    ("upscale ×3", {"scale": 3}),
    ("make it higher resolution", {}),
    ("resize it to 1024x768 and upscale", {}),  # a size, not a factor
])
def test_parse_params(text, expected):
    """The factor is read once, by the router's extraction (core/quantities.py); the capability adds the variant."""
    from pipeline.understand.params import extract_params

    merged = {**extract_params(text, "upscale"), **parse_upscale_params(text)}
    assert {k: v for k, v in merged.items() if k in ("scale", "variant")} == expected
    assert "scale" not in parse_upscale_params(text)  # one parser per fact


def test_factor_defaults_clamps_and_refuses_above_the_pixel_limit():
    assert choose_factor({}, (256, 256), 64_000_000) == (4, [])
    assert choose_factor({}, (1024, 768), 64_000_000) == (2, [])
    assert choose_factor({"width": 1536}, (512, 512), 64_000_000)[0] == 3
    factor, notes = choose_factor({"scale": 8}, (100, 100), 64_000_000)
    assert factor == 4 and "8x" in notes[0]
    with pytest.raises(InvalidInput) as err:
        choose_factor({"scale": 4}, (3000, 2000), 64_000_000)
    assert "12000×8000" in err.value.message and "64.0 megapixels" in err.value.message
    assert err.value.suggestions == ["Upscale 3x"]  # 9000×6000 = 54 MP fits
    with pytest.raises(InvalidInput):
        choose_factor({"scale": 1}, (100, 100), 64_000_000)
    assert passes_needed(4, 3) == 1 and passes_needed(2, 4) == 2 and passes_needed(2, 2) == 1


# ---- tiling ---------------------------------------------------------------------------------------------------
def _nearest(piece):
    return np.repeat(np.repeat(piece, 2, axis=0), 2, axis=1)


def test_tiles_blend_to_the_same_result_as_one_pass():
    image = np.random.default_rng(0).random((150, 230, 3), dtype=np.float32)
    tiled = upscale_tiled(image, _nearest, 2, tile=64, overlap=16)
    assert tiled.shape == (300, 460, 3)
    np.testing.assert_allclose(tiled, _nearest(image), atol=1e-5)


def test_out_of_memory_retries_with_smaller_tiles():
    image = np.random.default_rng(1).random((160, 160, 3), dtype=np.float32)
    seen = []

    def fragile(piece):
        seen.append(piece.shape[0])
        if max(piece.shape[:2]) > 64:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return _nearest(piece)

    result, tile = upscale_with_oom_retry(image, fragile, 2, tile=256, overlap=8)
    assert tile == 64 and max(seen) == 160
    np.testing.assert_allclose(result, _nearest(image), atol=1e-5)
    with pytest.raises(ValueError):  # anything else is not retried
        upscale_with_oom_retry(image, lambda p: (_ for _ in ()).throw(ValueError("bad")), 2, tile=256)


# ---- embedded ncnn models on real photos ---------------------------------------------------------------------
def test_embedded_span_quadruples_and_beats_bicubic(settings, astronaut):
    truth, small = _degraded(astronaut, 512, 4)
    result = _registry(settings).run(_request(small, "upscale this 4x"))
    out = result.images[0]
    assert result.backend == "ncnn" and out.image.size == (512, 512)
    assert out.recipe["model"] == "spanx4_ch48" and out.recipe["scale"] == 4
    assert out.parent_ids == ["parent-sha"] and result.metadata["backend"] == "ncnn"
    bicubic = small.resize((512, 512), Image.Resampling.BICUBIC)
    assert _psnr(out.image, truth) > _psnr(bicubic, truth) + 1.5  # measured: 28.8 vs 25.4 dB


def test_embedded_span_doubles_and_beats_bicubic(settings):
    from skimage import data

    truth, small = _degraded(Image.fromarray(data.coffee()), 256, 2)
    out = _registry(settings).run(_request(small, "make it twice as big")).images[0]
    assert out.image.size == (256, 256) and out.recipe["model"] == "spanx2_ch48"
    bicubic = small.resize((256, 256), Image.Resampling.BICUBIC)
    assert _psnr(out.image, truth) > _psnr(bicubic, truth) + 1.0


def test_factor_three_runs_x4_and_resizes_exactly(settings):
    from skimage import data

    small = Image.fromarray(data.chelsea()).resize((120, 80))  # above the Real-ESRGAN size: SPAN
    out = _registry(settings).run(_request(small, "upscale 3x")).images[0]
    assert out.image.size == (360, 240) and out.recipe["native_scale"] == 4


def test_small_inputs_use_realesrgan_and_anime_uses_animevideov3(settings, astronaut):
    registry = _registry(settings)
    tiny = astronaut.resize((40, 40), Image.Resampling.BICUBIC)
    assert registry.run(_request(tiny, "upscale 4x")).images[0].recipe["model"] == "realesrgan-x4plus"
    drawing = astronaut.resize((96, 80))
    anime = registry.run(_request(drawing, "upscale this anime drawing 3x")).images[0]
    assert anime.recipe["model"] == "realesr-animevideov3-x3" and anime.image.size == (288, 240)


def test_alpha_channel_is_kept(settings, astronaut):
    rgba = astronaut.resize((64, 64)).convert("RGBA")
    alpha = np.zeros((64, 64), np.uint8)
    alpha[16:48, 16:48] = 255
    rgba.putalpha(Image.fromarray(alpha))
    out = _registry(settings.replace(upscale_realesrgan_ncnn_max_pixels=0)).run(_request(rgba, "2x")).images[0].image
    assert out.mode == "RGBA" and out.size == (128, 128)
    assert np.asarray(out.getchannel("A"))[64, 64] == 255 and np.asarray(out.getchannel("A"))[4, 4] == 0


def test_output_above_the_limit_is_refused_before_any_work(settings, astronaut):
    with pytest.raises(InvalidInput, match="megapixels"):
        _registry(settings.replace(max_output_pixels=100_000)).run(_request(astronaut, "upscale 4x"))


def test_cancel_and_progress(settings, astronaut):
    seen = []
    request = _request(astronaut.resize((200, 200)), "2x")
    request.progress = lambda fraction, text: seen.append(fraction)
    registry = _registry(settings.replace(upscale_tile=64, upscale_realesrgan_ncnn_max_pixels=0))
    registry.run(request)
    assert len(seen) >= 4 and seen == sorted(seen)
    request.cancel_event = threading.Event()
    request.cancel_event.set()
    with pytest.raises(Cancelled):
        registry.run(request)


# ---- the spandrel (Real-ESRGAN) path with tiny random models ---------------------------------------------------
@pytest.fixture(scope="module")
def tiny_esrgan(tmp_path_factory):
    import torch
    from models.spandrel_compat import import_spandrel

    import_spandrel()  # spandrel also where torchvision is absent (requirements-cpu.txt)
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("sr") / "tiny_esrgan_x4.pth"
    torch.save(ESRGAN(num_filters=16, num_blocks=2, scale=4).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def tiny_compact(tmp_path_factory):
    import torch
    from models.spandrel_compat import import_spandrel

    import_spandrel()  # spandrel also where torchvision is absent (requirements-cpu.txt)
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("sr") / "tiny_compact_x2.pth"
    torch.save(Compact(num_feat=16, num_conv=2, upscale=2).state_dict(), path)
    return path


def test_realesrgan_backend_loads_local_weights_through_spandrel(settings, astronaut, tiny_esrgan):
    settings = settings.replace(upscale_model=str(tiny_esrgan))
    registry = _registry(settings)
    assert registry.get("upscale").backends[0].status().state == READY
    result = registry.run(_request(astronaut.resize((64, 48)), "upscale 4x"))
    out = result.images[0]
    assert result.backend == "realesrgan" and out.image.size == (256, 192)
    assert out.recipe["architecture"] == "ESRGAN" and out.recipe["model"] == "tiny_esrgan_x4.pth"
    assert "realesrgan" in registry.cache.keys()[0]


def test_spandrel_tiles_match_one_pass(settings, astronaut, tiny_esrgan):
    """Overlap blending hides the seams of a real convolutional model."""
    image = astronaut.resize((96, 96))
    whole = _registry(settings.replace(upscale_model=str(tiny_esrgan), upscale_tile=0)).run(_request(image, "4x"))
    tiled = _registry(settings.replace(upscale_model=str(tiny_esrgan), upscale_tile=48)).run(_request(image, "4x"))
    a = np.asarray(whole.images[0].image, dtype=np.float64)
    b = np.asarray(tiled.images[0].image, dtype=np.float64)
    assert np.abs(a - b).mean() < 1.0


def test_x2_model_runs_twice_for_4x_and_anime_weights_load_on_demand(settings, astronaut, tiny_esrgan, tiny_compact):
    settings = settings.replace(upscale_model=str(tiny_compact), upscale_anime_model=str(tiny_esrgan))
    registry = _registry(settings)
    photo = registry.run(_request(astronaut.resize((40, 40)), "upscale 4x")).images[0]
    assert photo.recipe["passes"] == 2 and photo.recipe["architecture"] == "Compact" and photo.image.size == (160, 160)
    anime = registry.run(_request(astronaut.resize((40, 40)), "upscale the anime drawing 4x")).images[0]
    assert anime.recipe["architecture"] == "ESRGAN" and anime.recipe["passes"] == 1


def test_a_long_upscale_reports_each_tile_and_stops_between_tiles(settings, astronaut, tiny_esrgan):
    """A tiled upscale says which tile it is on from the start, and a stop pressed during a tile ends the run
    before the next one (the tiny random ESRGAN stands in for Real-ESRGAN)."""
    registry = _registry(settings.replace(upscale_model=str(tiny_esrgan), upscale_tile=64))
    seen = []
    request = _request(astronaut.resize((128, 96)), "upscale 4x")  # 3 x 2 tiles of 64 px, overlapping by 32
    request.progress = lambda fraction, text: seen.append((fraction, text))
    assert registry.run(request).images[0].image.size == (512, 384)
    assert seen[0] == (0.0, "Upscaling: tile 1 of 6")  # before the first tile is done, the bar has a count
    assert [text for _, text in seen[1:6]] == [f"Upscaling: tile {n} of 6" for n in range(2, 7)]
    assert seen[6][1] == "Upscaling: 6 of 6 tiles done" and len(seen) == 7
    assert [f for f, _ in seen] == sorted(f for f, _ in seen) and seen[-1][0] == pytest.approx(0.95)

    stopped, cancel = [], threading.Event()

    def progress(fraction, text):
        stopped.append(text)
        if text == "Upscaling: tile 3 of 6":  # two tiles done: the user presses stop
            cancel.set()

    request = _request(astronaut.resize((128, 96)), "upscale 4x")
    request.progress, request.cancel_event = progress, cancel
    with pytest.raises(Cancelled):
        registry.run(request)
    assert stopped[-1] == "Upscaling: tile 3 of 6"  # no third tile ran after the stop


def test_an_overlap_as_wide_as_the_tile_does_not_multiply_the_tiles():
    image = np.zeros((80, 80, 3), dtype=np.float32)
    counts = []
    upscale_tiled(image, _nearest, 2, tile=32, overlap=32, progress=lambda done, total: counts.append(total))
    assert counts[-1] <= 16  # the overlap is held to half a tile (32 px of overlap would mean 49 x 49 tiles)


def test_a_non_upscaler_file_is_refused(settings, tmp_path, tiny_esrgan):
    from core.errors import ModelLoadError
    from models.upscale.spandrel_backend import load_sr_descriptor

    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelLoadError):
        load_sr_descriptor(junk, "cpu")


# ---- statuses and the last resort -------------------------------------------------------------------------------
def test_statuses_without_weights(settings, tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    backends = {b.name: b for b in capability(settings).backends}
    hub = backends["realesrgan"].status()
    assert hub.state == DOWNLOADABLE and "python -m models.download upscale" in hub.fix
    missing = capability(settings.replace(upscale_model=str(tmp_path / "nope.pth"))).backends[0].status()
    assert missing.state == MISSING and "nope.pth" in missing.reason
    assert capability(settings.replace(upscale_model="")).backends[0].status().state == MISSING
    assert backends["ncnn"].status().state == READY and backends["lanczos"].status().state == READY
    # a file in the hub cache makes it ready, with no network
    snapshot = tmp_path / "hub" / "models--lllyasviel--Annotators" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "RealESRGAN_x4plus.pth").write_bytes(b"x")
    (tmp_path / "hub" / "models--lllyasviel--Annotators" / "refs").mkdir()
    (tmp_path / "hub" / "models--lllyasviel--Annotators" / "refs" / "main").write_text("abc123")
    assert backends["realesrgan"].status().state == READY


def test_weight_settings_parse_into_local_paths_and_hub_files():
    from models.weights import parse_weight_source

    hub = parse_weight_source("lllyasviel/Annotators/RealESRGAN_x4plus.pth@abc", "E", single_file=True)
    assert (hub.repo_id, hub.filename, hub.revision) == ("lllyasviel/Annotators", "RealESRGAN_x4plus.pth", "abc")
    folder = parse_weight_source("CIDAS/clipseg-rd64-refined", "E", single_file=False)
    assert folder.is_hub and folder.folder and folder.filename is None
    for local in ("/models/x4.pth", "./x4.pth", "x4.pth", "C:/models/x4.pth"):
        assert not parse_weight_source(local, "E", single_file=True).is_hub
    assert parse_weight_source("  ", "E", single_file=True) is None


def test_lanczos_is_the_labelled_last_resort(settings, astronaut, monkeypatch):
    monkeypatch.setattr(NcnnUpscaler, "status", lambda self: BackendStatus(MISSING, "not installed"))
    result = _registry(settings).run(_request(astronaut.resize((64, 64)), "upscale 2x"))
    assert result.backend == "lanczos" and result.images[0].image.size == (128, 128)
    assert "plain resize" in result.message and result.metadata["warning"]
