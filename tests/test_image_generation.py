"""Text-to-image on a tiny Stable Diffusion pipeline that the tests build and save themselves (offline, CPU).

The real backend loads the folder through settings (`GATEWAY_T2I_MODEL`) exactly as it would load a real model,
so these tests cover loading, sizes, batching, seeds, regenerate / same seed / variations, provenance in the PNG,
progress and cancellation, the safety blur, the TAESD decoder, the huggingface_hub cache layout and the
"missing" states with their fixes. Parsing and planning are tested as pure functions.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from core.errors import Cancelled, CapabilityUnavailable, InvalidInput, MissingInput
from core.images import encode_png, png_text, recipe_from_png
from models.cache import ModelCache
from models.contracts import DOWNLOADABLE, MISSING, READY, CapabilityRequest, InputImage
from models.image_generation import capability
from models.image_generation.params import parse_generation_params, strip_parameter_phrases
from models.image_generation.plan import ModelProfile, plan_generation, snap_size
from models.image_generation.provenance import parse_a1111_parameters
from models.registry import Registry
from tests.tiny_models import (build_tiny_safety_checker, build_tiny_sd_pipeline, build_tiny_sdxl_pipeline,
                               build_tiny_taesd)

FIX = "python -m models.download image_generation"


# ---- fixtures ---------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def one_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("t2i")
    build_tiny_sd_pipeline(root / "sd")
    build_tiny_sd_pipeline(root / "sd_flagging", safety_checker="flag")
    build_tiny_safety_checker(root / "checker_pass", flag_everything=False)
    build_tiny_taesd(root / "taesd")
    return root


@pytest.fixture(scope="session")
def model_cache():
    return ModelCache(2**30)  # shared: each folder is loaded once for the whole session


def make_registry(settings, cache):
    registry = Registry(cache, settings.device if settings.device != "auto" else "cpu")
    registry.add(capability(settings))
    return registry


@pytest.fixture
def gen(settings, tiny_dir, model_cache):
    """Run a chat message (plus optional params/images) through the real backend on the tiny model."""
    def run(text, *, settings_changes=None, images=(), params=None, **request_fields):
        s = settings.replace(**{"t2i_model": str(tiny_dir / "sd"), "t2i_safety": "off", **(settings_changes or {})})
        registry = make_registry(s, model_cache)
        merged = {**parse_generation_params(text), **(params or {})}  # what the pipeline does
        return registry.run(CapabilityRequest("image_generation", text, params=merged, images=list(images),
                                              **request_fields))
    return run


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def as_latest(output, image_id="parent-sha"):
    recipe = {**output.recipe, "capability": "image_generation"}  # what the store keeps
    return InputImage(output.image, image_id=image_id, recipe=recipe, role="latest")


# ---- parsing and planning (pure) ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("a red fox, 64x64, 2 steps, seed 7", {"width": 64, "height": 64, "steps": 2, "seed": 7}),
    ("Generate 4 images of a cozy cabin in the snow", {"count": 4}),
    ("give me two versions of a minimalist mountain poster", {"count": 2}),
    ("Imagine a castle floating in the clouds, wide 16:9", {"aspect": "16:9"}),
    ("800 by 600 photo of a dog, cfg 7.5, sampler euler a", {"width": 800, "height": 600, "guidance": 7.5,
                                                             "scheduler": "Euler a"}),
    ("regenerate", {"mode": "regenerate"}),
    ("generate it again", {"mode": "regenerate"}),
    ("regenerate exactly", {"mode": "regenerate_exact"}),
    ("make variations of this", {"mode": "variation"}),
    ("subtle variations, strength 40%", {"mode": "variation", "strength": 0.4}),
    ("variation of this as a watercolor painting", {"mode": "variation", "extra_prompt": "watercolor painting"}),
    ("a fox, negative prompt: blurry, text", {"negative": ["blurry", "text"]}),
])
def test_parse_params(text, expected):
    assert parse_generation_params(text) == expected


def test_strip_parameter_phrases_keeps_the_subject():
    assert strip_parameter_phrases("a red fox, 64x64, 2 steps, seed 7") == "a red fox"
    assert strip_parameter_phrases("3 images of a cat, 96x64, guidance 5") == "a cat"
    assert strip_parameter_phrases("can you draw a lighthouse? use seed 42") == "can you draw a lighthouse?"


PROFILE = ModelProfile("m", 512, 512, 8, default_steps=4, default_guidance=0.0)


def test_plan_defaults_snap_and_clamp():
    plan = plan_generation(CapabilityRequest("image_generation", "a fox"), PROFILE, random_seed=lambda: 1234)
    assert (plan.width, plan.height, plan.steps, plan.guidance, plan.count, plan.seed) == (512, 512, 4, 0.0, 1, 1234)
    plan = plan_generation(CapabilityRequest("image_generation", "a fox, 16:9, 20 images, 1000x750"), PROFILE)
    assert (plan.width, plan.height, plan.count) == (1000, 752, 8)
    assert any("1000x752" in n for n in plan.notes) and any("count 20" in n for n in plan.notes)
    plan = plan_generation(CapabilityRequest("image_generation", "a fox, widescreen"), PROFILE)
    assert plan.width > plan.height and plan.width % 8 == 0 and plan.height % 8 == 0
    notes = []
    assert snap_size(4096, 4096, 8, 2048 * 2048, notes) == (2048, 2048) and notes
    with pytest.raises(InvalidInput):
        plan_generation(CapabilityRequest("image_generation", "64x64, seed 3"), PROFILE)


def test_plan_regenerate_and_variation_rules():
    with pytest.raises(MissingInput, match="no earlier generated image"):
        plan_generation(CapabilityRequest("image_generation", "regenerate"), PROFILE)
    with pytest.raises(MissingInput, match="Attach an image"):
        plan_generation(CapabilityRequest("image_generation", "make variations of this"), PROFILE)
    upload = InputImage(Image.new("RGB", (640, 480), "red"), image_id="up", role="latest")
    plan = plan_generation(CapabilityRequest("image_generation", "generate it again", images=[upload]), PROFILE)
    assert plan.mode == "image_to_image" and plan.parent_ids == ["up"] and plan.notes
    assert (plan.width, plan.height) == (640, 480) and plan.init_image.size == (640, 480)
    # distilled 1-step model: strength 0.3 needs ceil(1/0.3) = 4 steps to do any denoising
    plan = plan_generation(CapabilityRequest("image_generation", "subtle variation", images=[upload],
                                             params={"steps": 1}), PROFILE)
    assert plan.strength == 0.3 and plan.steps == 4
    recipe = {"capability": "image_generation", "mode": "text_to_image", "prompt": "a fox", "negative_prompt": "rain",
              "seed": 99, "steps": 3, "guidance": 2.0, "width": 256, "height": 128, "count": 2}
    made = InputImage(Image.new("RGB", (256, 128)), image_id="made", recipe=recipe, role="latest")
    exact = plan_generation(CapabilityRequest("image_generation", "regenerate exactly", images=[made]), PROFILE)
    assert (exact.prompt, exact.negative_prompt, exact.seed, exact.steps, exact.guidance) == ("a fox", "rain", 99, 3, 2.0)
    assert (exact.width, exact.height, exact.count, exact.parent_ids) == (256, 128, 1, ["made"])
    again = plan_generation(CapabilityRequest("image_generation", "regenerate", images=[made]), PROFILE,
                            random_seed=lambda: 5)
    assert (again.seed, again.count, again.prompt) == (5, 2, "a fox")


# ---- the real backend on the tiny model ---------------------------------------------------------------------------------
def test_size_count_seeds_and_png_metadata(gen):
    result = gen("a red fox, 96x64, 2 steps, seed 7, 2 images")
    assert [o.image.size for o in result.images] == [(96, 64), (96, 64)]
    assert result.metadata["seeds"] == [7, 8] and result.metadata["steps"] == 2
    assert not np.array_equal(pixels(result.images[0].image), pixels(result.images[1].image))
    out = result.images[1]
    data = encode_png(out.image, text={"gateway_recipe": json.dumps(out.recipe), **out.png_text})
    recipe = recipe_from_png(data)
    assert (recipe["seed"], recipe["prompt"], recipe["width"], recipe["height"]) == (8, "a red fox", 96, 64)
    assert recipe["model_id"].endswith("sd") and recipe["library_versions"]["diffusers"]
    assert recipe["scheduler"] == "EulerAncestralDiscreteScheduler" and recipe["sampler"] == "Euler a"
    a1111 = parse_a1111_parameters(png_text(data)["parameters"])
    assert a1111["prompt"] == "a red fox" and a1111["Seed"] == "8" and a1111["Size"] == "96x64"
    assert a1111["Steps"] == "2" and a1111["Sampler"] == "Euler a" and a1111["Batch size"] == "2"
    # image i of a batch is exactly the single image made with seed + i
    single = gen("a red fox, 96x64, 2 steps, seed 8")
    assert np.array_equal(pixels(single.images[0].image), pixels(out.image))


def test_same_seed_identical_new_seed_different(gen):
    first = gen("a red fox, 64x64, 2 steps, seed 7")
    again = gen("a red fox, 64x64, 2 steps, seed 7")
    other = gen("a red fox, 64x64, 2 steps, seed 8")
    assert first.images[0].image.size == (64, 64)
    assert np.array_equal(pixels(first.images[0].image), pixels(again.images[0].image))
    assert np.abs(pixels(first.images[0].image) - pixels(other.images[0].image)).mean() > 1
    unseeded = gen("a red fox, 64x64, 2 steps")
    assert isinstance(unseeded.metadata["seed"], int) and unseeded.images[0].recipe["seed"] == unseeded.metadata["seed"]


def test_regenerate_new_seed_and_exact_through_chat_and_chips(gen):
    first = gen("a red fox, 64x64, 2 steps, seed 7")
    latest = as_latest(first.images[0])
    regen = gen("regenerate", images=[latest])
    assert regen.images[0].recipe["seed"] != 7 and regen.images[0].recipe["prompt"] == "a red fox"
    assert regen.images[0].parent_ids == ["parent-sha"] and regen.images[0].recipe["request_mode"] == "regenerate"
    assert not np.array_equal(pixels(regen.images[0].image), pixels(first.images[0].image))
    exact = gen("regenerate exactly", images=[latest])
    assert exact.images[0].recipe["seed"] == 7
    assert np.array_equal(pixels(exact.images[0].image), pixels(first.images[0].image))
    chips = {a.id: a for a in first.actions}
    assert {"regenerate", "regenerate_exact", "variations"} <= set(chips)
    chip = chips["regenerate_exact"]
    assert chip.context["force_intent"] == "image_generation"
    # a chip carries its reply's recipe: it works even when the session's latest image is another one
    unrelated = InputImage(Image.new("RGB", (64, 64), "blue"), image_id="other", role="latest")
    via_chip = gen(chip.message, images=[unrelated], params=chip.context["params"])
    assert np.array_equal(pixels(via_chip.images[0].image), pixels(first.images[0].image))


def test_variations_use_the_parent_image(gen):
    first = gen("a red fox, 64x64, 2 steps, seed 7")
    variation = gen("make variations of this, seed 3", images=[as_latest(first.images[0])])
    out = variation.images[0]
    assert out.parent_ids == ["parent-sha"] and out.recipe["mode"] == "image_to_image"
    assert out.recipe["strength"] == pytest.approx(0.55) and out.recipe["prompt"] == "a red fox"
    assert "Denoising strength: 0.55" in out.png_text["parameters"]
    black = InputImage(Image.new("RGB", (64, 64), "black"), image_id="black", role="attachment")
    white = InputImage(Image.new("RGB", (64, 64), "white"), image_id="white", role="attachment")
    from_black = gen("variation, seed 3, strength 0.3", images=[black]).images[0]
    from_white = gen("variation, seed 3, strength 0.3", images=[white]).images[0]
    assert from_black.parent_ids == ["black"]
    # same seed, prompt and strength: only the parent differs, and it shows through (a random tiny VAE maps
    # black and white close together, so the difference is small but never zero)
    assert np.abs(pixels(from_white.image) - pixels(from_black.image)).mean() > 0.3


def test_progress_per_step_and_cancellation(gen):
    reports = []
    gen("a red fox, 64x64, 3 steps, seed 1", progress=lambda f, d: reports.append((f, d)))
    step_fractions = [f for f, d in reports if d.startswith("Step")]
    assert step_fractions == pytest.approx([1 / 3, 2 / 3, 1.0])
    cancel = threading.Event()

    def cancel_after_first_step(fraction, description):
        if description.startswith("Step"):
            cancel.set()

    with pytest.raises(Cancelled):
        gen("a red fox, 64x64, 3 steps", progress=cancel_after_first_step, cancel_event=cancel)


def test_safety_flag_blurs_with_reason_and_feedback_chip(gen, tiny_dir):
    flagging = {"t2i_model": str(tiny_dir / "sd_flagging"), "t2i_safety": "auto"}
    flagged = gen("a red fox, 64x64, 2 steps, seed 7", settings_changes=flagging)
    raw = gen("a red fox, 64x64, 2 steps, seed 7", settings_changes={**flagging, "t2i_safety": "off"})
    verdict = flagged.images[0].recipe["safety"]
    assert verdict["checked"] and verdict["flagged"] and verdict["blurred"] and verdict["score"] > 0
    blurred, original = pixels(flagged.images[0].image), pixels(raw.images[0].image)
    assert blurred.mean() > 5  # not a black square
    assert np.abs(np.diff(blurred, axis=1)).mean() < 0.5 * np.abs(np.diff(original, axis=1)).mean()
    assert "blurred" in flagged.message and "safety" in flagged.message
    chip = {a.id: a for a in flagged.actions}["safety_false_positive"]
    reply = gen(chip.message, params=chip.context["params"], settings_changes=flagging)
    assert reply.type == "text" and not reply.images and reply.metadata["safety_feedback"]["seeds"] == [7]
    assert raw.images[0].recipe["safety"] == {"checked": False, "reason": "off"}


def test_separate_safety_checker_passes_clean_images(gen, tiny_dir):
    checked = gen("a red fox, 64x64, 2 steps, seed 7",
                  settings_changes={"t2i_safety": "on", "t2i_safety_checker": str(tiny_dir / "checker_pass")})
    plain = gen("a red fox, 64x64, 2 steps, seed 7")
    verdict = checked.images[0].recipe["safety"]
    assert verdict["checked"] and not verdict["flagged"] and not verdict["blurred"]
    assert np.array_equal(pixels(checked.images[0].image), pixels(plain.images[0].image))


def test_tiny_vae_decoder_is_used(gen, tiny_dir):
    with_taesd = gen("a red fox, 64x64, 2 steps, seed 7", settings_changes={"t2i_tiny_vae": str(tiny_dir / "taesd")})
    plain = gen("a red fox, 64x64, 2 steps, seed 7")
    assert with_taesd.images[0].recipe["vae"] == str(tiny_dir / "taesd")
    assert with_taesd.images[0].image.size == (64, 64)
    assert not np.array_equal(pixels(with_taesd.images[0].image), pixels(plain.images[0].image))


def test_done_when_chat_flow_with_a_folder_from_the_environment(tmp_path, model_cache):
    """GATEWAY_T2I_MODEL → any tiny diffusers folder: seed recorded, same message identical, regenerate differs."""
    from core.settings import Settings

    folder = build_tiny_sd_pipeline(tmp_path / "another-tiny-sd", seed=1)
    settings = Settings.from_env({"GATEWAY_T2I_MODEL": str(folder)}, data_dir=tmp_path / "data")
    registry = make_registry(settings, model_cache)
    parse = registry.get("image_generation").parse_params

    def chat(text, images=()):
        return registry.run(CapabilityRequest("image_generation", text, params=parse(text), images=list(images)))

    first = chat("a red fox, 64x64, 2 steps, seed 7")
    data = encode_png(first.images[0].image, text={"gateway_recipe": json.dumps(first.images[0].recipe),
                                                    **first.images[0].png_text})
    assert Image.open(__import__("io").BytesIO(data)).size == (64, 64) and recipe_from_png(data)["seed"] == 7
    second = chat("a red fox, 64x64, 2 steps, seed 7")
    assert np.array_equal(pixels(first.images[0].image), pixels(second.images[0].image))
    regen = chat("regenerate", images=[as_latest(second.images[0])])
    assert regen.images[0].recipe["seed"] != 7
    assert not np.array_equal(pixels(regen.images[0].image), pixels(first.images[0].image))


def test_sdxl_architecture_with_two_text_encoders(settings, tmp_path, model_cache):
    folder = build_tiny_sdxl_pipeline(tmp_path / "tiny-sdxl-turbo")
    registry = make_registry(settings.replace(t2i_model=str(folder), t2i_safety="off"), model_cache)
    result = registry.run(CapabilityRequest("image_generation", "a red fox, 96x64, seed 5, 2 images",
                                            params=parse_generation_params("a red fox, 96x64, seed 5, 2 images")))
    recipe = result.images[0].recipe
    assert recipe["pipeline"] == "StableDiffusionXLPipeline" and [o.image.size for o in result.images] == [(96, 64)] * 2
    assert (recipe["steps"], recipe["guidance"]) == (2, 0.0)  # "turbo" in the name: few steps, no guidance
    variation = registry.run(CapabilityRequest("image_generation", "make variations of this",
                                               params={"mode": "variation", "seed": 1, "strength": 0.3},
                                               images=[as_latest(result.images[0])]))
    assert variation.images[0].recipe["pipeline"] == "StableDiffusionXLPipeline"
    assert variation.images[0].recipe["steps"] == 4  # 2 steps x strength 0.3 < 1: raised so one step runs


# ---- weights on disk, status and fixes --------------------------------------------------------------------------------
def test_missing_folder_is_reported_with_the_fix(settings, tmp_path, model_cache):
    from models.registry import build_registry

    s = settings.replace(t2i_model=str(tmp_path / "no-such-model"))
    backend = capability(s).backends[0]
    status = backend.status()
    assert status.state == MISSING and "does not exist" in status.reason
    assert "GATEWAY_T2I_MODEL" in status.fix and FIX in status.fix
    registry = build_registry(s, model_cache)
    with pytest.raises(CapabilityUnavailable) as info:
        registry.run(CapabilityRequest("image_generation", "a red fox"))
    assert info.value.message == "Image generation isn't set up on this server yet."  # the creator's sentence
    operator = info.value.details["operator"]  # the operator's detail, folded away in the chat
    assert "GATEWAY_T2I_MODEL" in operator and FIX in operator and info.value.details["fixes"]
    assert registry.get("image_generation").describe()["available"] is False


def test_incomplete_folder_is_missing(settings, tiny_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dir / "sd", broken)
    for weights in (broken / "unet").glob("*.safetensors"):
        weights.unlink()
    status = capability(settings.replace(t2i_model=str(broken))).backends[0].status()
    assert status.state == MISSING and "unet/ has no weights file" in status.reason


def test_hub_model_from_the_huggingface_cache_and_offline_missing(settings, tiny_dir, tmp_path, monkeypatch,
                                                                  model_cache):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub_settings = settings.replace(t2i_model="tiny-org/tiny-sd", t2i_safety="off")
    status = capability(hub_settings).backends[0].status()
    assert status.state == MISSING and "HF_HUB_OFFLINE" in status.reason and FIX in status.fix
    default_status = capability(settings.replace(device="cpu")).backends[0].status()  # sd-turbo + TAESD
    assert default_status.state == MISSING and "stabilityai/sd-turbo" in default_status.reason
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    online = capability(hub_settings).backends[0].status()
    assert online.state == DOWNLOADABLE and "GATEWAY_ALLOW_DOWNLOADS" in online.fix
    # the huggingface_hub cache layout: refs/main → snapshots/<commit>/
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--tiny-org--tiny-sd"
    shutil.copytree(tiny_dir / "sd", repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    backend = capability(hub_settings).backends[0]
    assert backend.status().state == READY and backend.estimated_bytes > 0
    result = make_registry(hub_settings, model_cache).run(
        CapabilityRequest("image_generation", "a red fox", params={"steps": 2, "seed": 1}))
    recipe = result.images[0].recipe
    assert (recipe["model_id"], recipe["model_revision"], recipe["model_source"]) == ("tiny-org/tiny-sd", commit, "hub")
    assert "Model: tiny-org/tiny-sd" in result.images[0].png_text["parameters"]


def test_safety_on_without_a_checker_is_missing(settings, tiny_dir, tmp_path):
    s = settings.replace(t2i_model=str(tiny_dir / "sd"), t2i_safety="on", t2i_safety_checker=str(tmp_path / "none"))
    status = capability(s).backends[0].status()
    assert status.state == MISSING and "safety checker" in status.reason and "GATEWAY_T2I_SAFETY_CHECKER" in status.fix
    ok = capability(s.replace(t2i_model=str(tiny_dir / "sd_flagging"))).backends[0]  # the model brings its own
    assert ok.status().state == READY and "sd_flagging/safety_checker" in ok.describe()["safety"]


def test_describe_names_model_licence_and_safety(settings, tiny_dir):
    info = capability(settings.replace(t2i_model=str(tiny_dir / "sd"))).backends[0].describe()
    assert info["status"] == READY and info["model"] == str(tiny_dir / "sd")
    assert "weights licence not stated" in info["licence"] and "diffusers Apache-2.0" in info["licence"]
    default = capability(settings.replace(device="cpu")).backends[0].describe()
    assert "stability.ai/license" in default["licence"] and "TAESD" in default["licence"]
    assert default["tiny_vae"] == "madebyollin/taesd"
    # The GPU default is non-commercial, as its card says; the commercially usable preset says so too.
    gpu = capability(settings.replace(device="cuda")).backends[0].licence
    assert "sai-nc-community" in gpu and "non-commercial" in gpu
    ssd = capability(settings.replace(device="cuda", t2i_model="segmind/SSD-1B")).backends[0].licence
    assert "apache-2.0" in ssd and "commercial use allowed" in ssd


def test_download_command_for_a_local_folder_downloads_nothing(settings, tiny_dir, capsys):
    from models.download import main

    assert main(["image_generation"], settings=settings.replace(t2i_model=str(tiny_dir / "sd"), t2i_safety="off")) == 0
    assert "local folder, nothing to download" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["no_such_capability"], settings=settings)


def test_out_of_memory_halves_the_batch():
    from models.image_generation.engine import run_in_batches

    calls = []

    def run_batch(seeds, done):
        calls.append(list(seeds))
        if len(seeds) > 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return [f"image-{s}" for s in seeds]

    outcome = run_in_batches([1, 2, 3, 4], 4, run_batch, free_memory=lambda: None)
    assert outcome.images == ["image-1", "image-2", "image-3", "image-4"] and outcome.batch_size == 1
    assert calls[:2] == [[1, 2, 3, 4], [1, 2]]
    with pytest.raises(ValueError):
        run_in_batches([1], 1, lambda seeds, done: (_ for _ in ()).throw(ValueError("bug")))


def test_importing_the_capability_is_light():
    code = ("import sys, models.image_generation, models.download; "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'gradio') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert out.stdout.strip() == "[]"


@pytest.mark.gpu
def test_generation_on_cuda_in_half_precision(gen):
    result = gen("a red fox, 64x64, 2 steps, seed 7, 2 images", settings_changes={"device": "cuda"})
    recipe = result.images[0].recipe
    assert recipe["device"].startswith("cuda") and recipe["dtype"] in ("float16", "bfloat16")
    assert "channels_last" in recipe["speedups"] and result.images[0].image.size == (64, 64)
