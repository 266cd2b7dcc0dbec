"""Deployment specifics without a server: the listen rule, platform detection, the owner secret and its derived
keys, bf16 only where the GPU computes it natively, the loud GPU warning, ZeroGPU's executor, and the README's
`preload_from_hub` and `packages.txt`."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from core import platform

ROOT = Path(__file__).resolve().parent.parent


def test_listen_only_where_settings_say_so(settings):
    assert platform.listen_kwargs(settings) == {}  # Gradio's defaults and GRADIO_SERVER_* apply
    assert platform.listen_kwargs(settings.replace(host="0.0.0.0", port=8080)) == {"server_name": "0.0.0.0",
                                                                                   "server_port": 8080}
    assert "0.0.0.0" in platform.listen_description(settings, {"GRADIO_SERVER_NAME": "0.0.0.0"})


def test_event_loops_gradio_abandons_are_closed_and_the_current_and_others_are_kept():
    import asyncio
    import threading

    tracker = platform.AbandonedEventLoops()
    made = []
    try:
        for _ in range(3):  # what gradio.utils.safe_get_lock does outside a running loop
            made.append(asyncio.new_event_loop())
            asyncio.set_event_loop(made[-1])
        elsewhere = []
        thread = threading.Thread(target=lambda: elsewhere.append(asyncio.new_event_loop()))
        thread.start()
        thread.join()
    finally:
        closed = tracker.close()
    assert closed == 2 and [loop.is_closed() for loop in made] == [True, True, False]
    assert not elsewhere[0].is_closed()  # another thread's loop is not ours to close
    assert asyncio.new_event_loop is tracker._original  # no longer tracking
    asyncio.set_event_loop(None)
    for loop in (made[-1], elsewhere[0]):
        loop.close()


def test_platform_detection():
    assert platform.target({"SPACE_ID": "a/b", "SPACES_ZERO_GPU": "true"}) == "zerogpu"
    assert platform.target({"SPACE_ID": "a/b"}) == "space"
    assert platform.target({"GATEWAY_IN_DOCKER": "1"}) == "docker"
    assert platform.target({}) == "local"
    assert platform.hub_offline({"HF_HUB_OFFLINE": "1"}) and not platform.hub_offline({})
    assert "huggingface.co/spaces/a/b/settings" in platform.secret_hint({"SPACE_ID": "a/b"})
    assert "Secret" in platform.secret_hint({"SPACE_ID": "a/b"}) and "Variable" in platform.secret_hint({"SPACE_ID": "a/b"})


def test_owner_secret_configured_kept_or_generated(tmp_path):
    from pipeline.boundary.identity import SECRET_FILE, resolve_owner_secret

    assert resolve_owner_secret("mine", tmp_path) == ("mine", "GATEWAY_OWNER_SECRET")
    assert not (tmp_path / SECRET_FILE).exists()
    secret, origin = resolve_owner_secret("", tmp_path)
    assert origin == "generated" and len(secret) >= 40
    assert (tmp_path / SECRET_FILE).stat().st_mode & 0o777 == 0o600
    assert resolve_owner_secret("", tmp_path) == (secret, str(tmp_path / SECRET_FILE))  # kept across restarts
    assert resolve_owner_secret("", tmp_path / "other")[0] != secret  # random, never a public default


def test_derived_keys_are_distinct_and_one_way():
    from pipeline.boundary.identity import browser_state_key, export_key, owner_from_token

    secret = "a-private-secret-value"
    keys = {browser_state_key(secret), export_key(secret), secret}
    assert len(keys) == 3 and all(secret not in k for k in keys - {secret})
    assert browser_state_key(secret) != browser_state_key(secret + "x")
    assert owner_from_token("token-1234567890", secret) == owner_from_token("token-1234567890", secret)
    with pytest.raises(ValueError):
        export_key("")


@pytest.mark.parametrize("capability, dtype", [((7, 5), "float16"), ((8, 0), "bfloat16"), ((9, 0), "bfloat16")])
def test_bf16_only_at_compute_capability_8(monkeypatch, capability, dtype):
    import torch

    from models import devices

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # a T4 may claim it: ignored
    assert str(devices.torch_dtype("cuda")) == f"torch.{dtype}"
    assert str(devices.torch_dtype("cpu")) == "torch.float32"


def test_a_gpu_that_torch_cannot_use_is_a_loud_warning_naming_the_fix(monkeypatch):
    import torch

    from core.targets import fix_for_driver
    from models import devices

    devices.runtime_info.cache_clear()
    monkeypatch.setattr(devices, "nvidia_gpu_present", lambda: True)
    monkeypatch.setattr(devices, "nvidia_driver", lambda: {"version": "535.104.05", "cuda": "12.2"})
    try:
        info = devices.runtime_info("auto")
    finally:
        devices.runtime_info.cache_clear()
    assert info["cuda_available"] is False and info["device"] == "cpu"
    warning = next(w for w in info["warnings"] if "GPU is present" in w)
    assert "NVIDIA driver 535.104.05 (supports CUDA ≤ 12.2)" in warning and f"torch {torch.__version__}" in warning
    assert f"Fix: {fix_for_driver(torch.__version__, '12.2')}." in warning
    assert info["onnx_providers"] and "CPUExecutionProvider" in info["onnx_providers"]


def test_onnx_backends_ask_for_cuda_only_when_onnxruntime_has_it():
    from models.devices import onnx_providers

    assert onnx_providers("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    both = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert onnx_providers("cuda", both) == both and onnx_providers("cpu", both) == ["CPUExecutionProvider"]


# ---- ZeroGPU ----------------------------------------------------------------------------------------------------
def _registry(settings):
    from models.cache import ModelCache
    from models.registry import build_registry

    return build_registry(settings, ModelCache(2**30), device="cpu")


def _request(capability, text, image=None):
    import threading

    from PIL import Image

    from models.contracts import CapabilityRequest, InputImage

    image = image or Image.new("RGB", (32, 24), "red")
    return CapabilityRequest(capability, text, params={"scale": 2} if capability == "upscale" else {},
                             images=[InputImage(image)], progress=lambda f, d: None, cancel_event=threading.Event())


def test_zerogpu_runs_model_work_through_one_gpu_function_asking_for_measured_time(settings):
    """The stand-in spaces.GPU pickles the call and the result as ZeroGPU's worker pipe does."""
    import math

    from pipeline.executors.zerogpu import MIN_DURATION_S, PRIOR_SECONDS_PER_UNIT, ZeroGpuExecutor, work_units
    from tests.fake_spaces import FakeSpaces

    spaces = FakeSpaces()
    executor = ZeroGpuExecutor(_registry(settings.replace(upscale_model="")), 1, spaces_module=spaces)
    first = executor.run(_request("upscale", "upscale it 2x"))
    second = executor.run(_request("upscale", "upscale it 2x"))
    asked = [call["duration"] for call in spaces.calls]
    assert work_units(_request("upscale", "upscale it 2x")) == 1.0
    assert asked[0] == int(PRIOR_SECONDS_PER_UNIT["upscale"] * 1.5 + 5)  # before any run: the prior
    measured = first.metadata["gpu_seconds"]
    assert 0 < measured < 5 and asked[1] == max(MIN_DURATION_S, math.ceil(measured * 1.5 + 5))  # then the measurement
    assert [r.metadata["gpu_duration_requested_s"] for r in (first, second)] == asked
    assert first.metadata["executor"] == "zerogpu" and first.images[0].image.size == (64, 48)
    assert second.backend == first.backend
    edit = executor.run(_request("image_edit", "rotate it 90 degrees"))
    assert edit.images and len(spaces.calls) == 2  # a Pillow edit takes no GPU time


def test_a_first_generation_asks_for_far_less_than_the_old_120_s():
    from models.contracts import CapabilityRequest
    from pipeline.executors.zerogpu import MAX_DURATION_S, GpuTimes, work_units

    times = GpuTimes()
    one = work_units(CapabilityRequest("image_generation", "a fox", params={"width": 1024, "height": 1024}))
    four = work_units(CapabilityRequest("image_generation", "foxes", params={"count": 4}))
    assert times.duration("image_generation", one) <= 40 and four == 4 * one
    assert times.duration("image_generation", four) == MAX_DURATION_S  # bounded by ZeroGPU's 120 s anyway
    times.record("image_generation", one, 2.0)
    assert times.duration("image_generation", one) == 10  # measured 2 s: 2 × 1.5 + 5 = 8, at least 10


def test_zerogpu_executor_builds_with_the_real_spaces_package_off_zerogpu(settings):
    import spaces

    from pipeline.executors.zerogpu import ZeroGpuExecutor

    executor = ZeroGpuExecutor(_registry(settings.replace(upscale_model="")), 1, spaces_module=spaces)
    assert executor.run(_request("upscale", "upscale it 2x")).images  # off ZeroGPU the decorator is a no-op


def test_build_executor_picks_zerogpu_only_there(settings, monkeypatch):
    from pipeline.executors import LocalExecutor, build_executor

    assert type(build_executor(settings, _registry(settings))) is LocalExecutor
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert build_executor(settings, _registry(settings)).name == "zerogpu"


# ---- README front matter and packages.txt -------------------------------------------------------------------------
def test_readme_preload_from_hub_is_what_the_code_fetches_per_file():
    from models.download import preload_block, preload_specs, readme_preload_block

    specs = preload_specs()
    assert readme_preload_block() == preload_block(specs), "run `python -m models.download --write-readme`"
    repos = {spec.repo_id: spec.files for spec in specs}
    assert "stabilityai/sdxl-turbo" in repos and all(f for files in repos.values() for f in files)
    assert all(".fp16." in f for f in repos["stabilityai/sdxl-turbo"] if f.endswith(".safetensors"))
    assert "sd_xl_turbo_1.0_fp16.safetensors" not in repos["stabilityai/sdxl-turbo"]  # per file, never whole repos


def test_packages_txt_has_the_libraries_opencv_needs():
    packages = (ROOT / "packages.txt").read_text().split()
    assert {"libgl1", "libglib2.0-0"} <= set(packages)


def test_the_zerogpu_variant_is_python_3_12_with_a_supported_torch_and_otherwise_the_same():
    from core.targets import pins
    from models.download import ZEROGPU_README, preload_block, preload_specs, readme_preload_block

    main, zero = pins(ROOT / "requirements.txt"), pins(ROOT / "deploy" / "zerogpu" / "requirements.txt")
    major, minor = (int(x) for x in zero["torch"].split(".")[:2])
    assert (2, 8) <= (major, minor) <= (2, 11)  # ZeroGPU's supported torch versions
    assert zero["torchvision"] == f"0.{minor + 15}.0"  # the torchvision released with that torch
    assert zero.pop("spaces") and zero == main
    front = ZEROGPU_README.read_text().split("---")[1]
    assert 'python_version: "3.12"' in front and "sdk: gradio" in front
    assert "hf_oauth: true" in front and "hf_oauth: true" in (ROOT / "README.md").read_text().split("---")[1]
    assert readme_preload_block(ZEROGPU_README) == preload_block(preload_specs())


# ---- torch builds, CUDA majors and drivers: the README's table is the requirement files --------------------------
def test_each_requirements_variant_pins_the_cuda_major_the_readme_table_states():
    from core.targets import (GPU_TORCH_PINS, ONNXRUNTIME_GPU_CUDA_MAJOR, TARGETS, cuda_major,
                              dockerfile_onnxruntime_gpu, pins, targets_table, torch_cuda)

    readme = (ROOT / "README.md").read_text()
    assert all(line in readme for line in targets_table()), "the README's driver table is out of date"
    majors = {t.requirements: t.cuda_major() for t in TARGETS}
    assert majors == {"requirements.txt": 12, "deploy/zerogpu/requirements.txt": 12, "requirements-cpu.txt": None}
    main = pins(ROOT / "requirements.txt")
    assert GPU_TORCH_PINS == (f"torch=={main['torch']}", f"torchvision=={main['torchvision']}")
    ort = dockerfile_onnxruntime_gpu()
    assert ONNXRUNTIME_GPU_CUDA_MAJOR[".".join(ort.split(".")[:2])] == majors["requirements.txt"], \
        f"onnxruntime-gpu {ort} needs another CUDA than torch {main['torch']}"
    assert cuda_major(torch_cuda("2.11.0")) == 13 and torch_cuda("2.14.1+cu130") == "13.0"
    assert torch_cuda("2.10.0+cu128") == "12.8" and torch_cuda("2.13.0+cpu") is None


def test_the_cuda_table_agrees_with_the_installed_torch_wheel_metadata():
    """The table's entry for the torch installed here, against what that wheel's metadata requires."""
    import re
    from importlib import metadata

    from core.targets import TORCH_PYPI_CUDA

    version = metadata.version("torch")
    requires = metadata.requires("torch") or []
    cuda = [re.search(r"(?:cuda-runtime-cu|cuda-toolkit\S*==)(\d+)", r) for r in requires]
    majors = {int(m.group(1)) for m in cuda if m}
    if version.endswith("+cpu"):
        assert not majors  # the CPU build requires no CUDA library
        return
    base = ".".join(version.split("+")[0].split(".")[:2])
    assert majors == {int(TORCH_PYPI_CUDA[base].split(".")[0])}, (version, requires)


@pytest.mark.parametrize("torch_version, driver_cuda, fix", [
    ("2.14.1+cu130", "12.2", "pin `torch==2.10.0` and `torchvision==0.25.0` in requirements.txt"),
    ("2.13.0+cpu", "12.4", "pip install -r requirements.txt"),
    ("2.10.0+cu128", "11.8", "update the NVIDIA driver to ≥ 525.60.13"),
])
def test_a_driver_too_old_for_torch_gets_the_requirement_lines_that_fix_it(torch_version, driver_cuda, fix):
    from core.targets import fix_for_driver

    assert fix in fix_for_driver(torch_version, driver_cuda)


def test_requirements_cpu_is_requirements_txt_with_the_cpu_torch_and_no_torchvision():
    from core.targets import pins

    main, cpu = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-cpu.txt")
    text = (ROOT / "requirements-cpu.txt").read_text()
    assert cpu.pop("torch").endswith("+cpu") and "torchvision" not in cpu and "spandrel" not in cpu
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text.splitlines()
    assert cpu.pop("einops") and cpu == {k: v for k, v in main.items() if k not in ("torch", "torchvision", "spandrel")}
    line = f"pip install -r requirements-cpu.txt && pip install --no-deps spandrel=={main['spandrel']}"
    assert line in text and line in (ROOT / "README.md").read_text()


# The values the Spaces configuration reference lists for `suggested_hardware` (it lists none for ZeroGPU).
DOCUMENTED_HARDWARE = {"cpu-basic", "cpu-upgrade", "t4-small", "t4-medium", "l4x1", "l4x4", "a10g-small",
                       "a10g-large", "a10g-largex2", "a10g-largex4", "a100-large"}


@pytest.mark.parametrize("readme", ["README.md", "deploy/zerogpu/README.md", "deploy/docker/README.md"])
def test_every_space_front_matter_parses_signs_in_and_suggests_only_documented_hardware(readme):
    import yaml

    front = yaml.safe_load((ROOT / readme).read_text().split("---")[1])
    assert front["hf_oauth"] is True  # "Sign in with Hugging Face" on every variant
    assert front.get("suggested_hardware", "t4-small") in DOCUMENTED_HARDWARE
    assert front["sdk"] in ("gradio", "docker")


def test_the_docker_image_listens_publicly_swaps_in_onnxruntime_gpu_fetches_gpu_weights_and_checks_health():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "GRADIO_SERVER_NAME=0.0.0.0" in dockerfile and "GATEWAY_HOST" not in dockerfile
    assert "pip uninstall -y onnxruntime" in dockerfile and "onnxruntime-gpu==" in dockerfile
    assert "models.download --device cuda" in dockerfile and "HEALTHCHECK" in dockerfile
    assert "useradd -m -u 1000" in dockerfile and "USER user" in dockerfile
    space = (ROOT / "deploy" / "docker" / "README.md").read_text().split("---")[1]
    assert "sdk: docker" in space and "app_port: 7860" in space


def test_off_hub_weights_are_fetched_at_start_up_only_when_allowed_and_show_as_downloading(settings, monkeypatch):
    """rembg's weights are GitHub releases (preload_from_hub cannot fetch them): the start-up thread fetches them.
    The download itself is replaced here (no internet); what runs is ours: the policy, the order, the state."""
    from models import hub, runtime
    from models.background_removal.backends import RembgBackend

    registry = _registry(settings)
    seen = []

    def fake_download(self):
        block = runtime.block(settings, registry)
        state = next(c for c in block["capabilities"] if c["capability"] == "background_removal")
        seen.append((state["best"] or state["serving"])["weights"])
        return "fetched"

    monkeypatch.setattr(RembgBackend, "download", fake_download)
    assert runtime.fetch_off_hub_weights(registry, settings) == []  # HF_HUB_OFFLINE=1 in tests: nothing
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(hub, "_probe", dict(hub._probe, reachable=True))
    assert runtime.fetch_off_hub_weights(registry, settings) == ["background_removal/rembg"]
    assert seen == ["downloading"] and hub.DOWNLOADS.active() == {}


# ---- the CPU install: spandrel without torchvision ----------------------------------------------------------------
SPANDREL_WITHOUT_TORCHVISION = r'''
import sys
sys.modules["torchvision"] = None  # as absent as in the CPU install: every import of it fails
import torch
from models.spandrel_compat import import_spandrel
from models.upscale.spandrel_backend import load_sr_descriptor
spandrel = import_spandrel()
from spandrel.architectures.ESRGAN import ESRGAN
from spandrel.architectures.LaMa import LaMa
torch.manual_seed(0)
torch.save(ESRGAN(num_filters=8, num_blocks=1, scale=2).state_dict(), "tiny.pth")
descriptor = load_sr_descriptor("tiny.pth", "cpu")
out = descriptor(torch.rand(1, 3, 16, 16))
lama = LaMa(in_nc=4, out_nc=3)
try:
    import torchvision
    leaked = True
except ImportError:
    leaked = False
from spandrel.architectures.LaMa.__arch import LaMa as lama_arch
try:
    lama_arch.rotate(torch.zeros(1), 0.0)
    rotate = "ran"
except RuntimeError as exc:
    rotate = "requirements.txt" in str(exc)
print(tuple(out.shape), leaked, sys.modules["torchvision"] is None, rotate)
'''


def test_spandrel_loads_and_runs_where_torchvision_is_absent(tmp_path):
    """The CPU install has no torchvision: spandrel imports through a stand-in that nobody else ever sees."""
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", SPANDREL_WITHOUT_TORCHVISION], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split("\n")[-2] == "(1, 3, 32, 32) False True True"
