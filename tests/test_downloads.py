"""First-use downloads through the real huggingface_hub code path, against a local stand-in for the Hub.

`tests/hub_server.py` serves repositories built here in the Hub's URL layout; huggingface_hub is pointed at it
(its endpoint and cache), so `hf_hub_download` really runs: exactly the files a backend needs are fetched (the
fp16 set of the GPU default, never the fp32 copies or single-file checkpoints beside them), one download per
model under concurrent requests, progress in bytes to the requesting reply, a free-disk check first, and a
cancelled or failed download leaves nothing that later counts as present.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time

import pytest

from core.errors import Cancelled, DownloadFailed
from models import hub
from tests.hub_server import FakeHub, use_hub


@pytest.fixture
def fake_hub():
    servers = []

    def start(repos, **kwargs):
        server = FakeHub(repos, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def online(monkeypatch, tmp_path):
    """huggingface_hub online against the fake hub, with its own cache; the probe result forgotten."""
    monkeypatch.setattr(hub, "_probe", dict(hub._probe, reachable=None))

    def connect(server):
        use_hub(monkeypatch, server.url, tmp_path / "hf-cache")
        return tmp_path / "hf-cache"

    return connect


def _blob(n: int, seed: int = 0) -> bytes:
    return (hashlib.sha256(str(seed).encode()).digest() * (n // 32 + 1))[:n]


def test_a_hub_file_downloads_on_first_use_with_progress_and_is_then_present(fake_hub, online, settings):
    from models.weights import fetch, parse_weight_source, weight_status

    data = _blob(300_000)
    server = fake_hub({"test-org/weights": {"tiny.pth": data, "other.pth": _blob(10)}})
    online(server)
    source = parse_weight_source("test-org/weights/tiny.pth", "GATEWAY_UPSCALE_MODEL", single_file=True)
    assert weight_status(source, env_var="X", what="w", capability="upscale").state == "downloadable"
    reports = []
    with hub.reporting_to(lambda fraction, text: reports.append((fraction, text))):
        path = fetch(source, allow_download=True)
    assert path.read_bytes() == data
    assert server.gets() == ["tiny.pth"]  # only the file the backend needs
    assert reports[-1][0] == pytest.approx(1.0)
    assert "test-org/weights: tiny.pth" in reports[-1][1] and "0.3 MB of 0.3 MB" in reports[-1][1]
    assert weight_status(source, env_var="X", what="w", capability="upscale").state == "ready"
    assert fetch(source, allow_download=True) == path and server.gets() == ["tiny.pth"]  # no second download


def test_concurrent_requests_share_one_download(fake_hub, online):
    files = {"a.bin": _blob(400_000, 1), "b.bin": _blob(200_000, 2)}
    server = fake_hub({"test-org/shared": files}, chunk_delay_s=0.02)
    online(server)
    spec = hub.HubFiles("test-org/shared", ("a.bin", "b.bin"))
    results, waits, errors = [], [], []

    def request():
        try:
            with hub.reporting_to(lambda f, text: waits.append(text) if text.startswith("Waiting") else None):
                results.append(hub.fetch(spec))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=request) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 4 and len(set(results)) == 1
    assert server.gets() == ["a.bin", "b.bin"]  # each file fetched once for four requests
    assert waits, "the requests that waited were told why"
    assert (results[0] / "a.bin").read_bytes() == files["a.bin"]


def test_a_cancelled_download_leaves_nothing_that_looks_complete_and_resumes_later(fake_hub, online, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)  # real files arrive in 10 MB chunks
    data = _blob(1_000_000, 3)
    server = fake_hub({"test-org/big": {"model.safetensors": data}}, chunk_delay_s=0.01)
    online(server)
    spec = hub.HubFiles("test-org/big", ("model.safetensors",))
    seen = []

    def cancelled():
        return len(seen) > 0  # cancel once the first chunk arrived

    with pytest.raises(Cancelled):
        with hub.reporting_to(lambda f, text: seen.append(f), cancelled):
            hub.fetch(spec)
    assert hub.local_snapshot(spec) is None and hub.missing_files(spec) == ["model.safetensors"]
    assert hub.DOWNLOADS.active() == {}
    folder = hub.fetch(spec)  # a later request completes it
    assert (folder / "model.safetensors").read_bytes() == data


def test_a_failed_download_is_a_typed_error_and_nothing_is_present(fake_hub, online, settings):
    server = fake_hub({"test-org/broken": {"config.json": b"{}", "model.safetensors": _blob(50_000)}})
    server.failing.add("model.safetensors")
    online(server)
    spec = hub.HubFiles("test-org/broken", ("config.json", "model.safetensors"))
    with pytest.raises(DownloadFailed, match="test-org/broken"):
        hub.fetch(spec)
    assert hub.local_snapshot(spec) is None  # config.json alone does not make the model present


def test_the_free_disk_check_refuses_before_downloading(fake_hub, online, monkeypatch):
    server = fake_hub({"test-org/huge": {"model.safetensors": _blob(100_000)}})
    online(server)
    import shutil

    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=hub.DISK_HEADROOM_BYTES + 50_000))
    with pytest.raises(DownloadFailed, match="Not enough disk space"):
        hub.fetch(hub.HubFiles("test-org/huge", ("model.safetensors",)))
    assert server.gets() == []  # refused before any byte was fetched


def test_policy_downloads_on_by_default_off_when_offline_or_disabled(settings, monkeypatch):
    monkeypatch.setattr(hub, "_probe", dict(hub._probe, reachable=None))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert hub.download_policy(settings) == (True, "")
    assert not hub.downloads_allowed(settings.replace(allow_downloads=False))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "HF_HUB_OFFLINE" in hub.download_policy(settings)[1]
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(hub, "_probe", dict(hub._probe, reachable=False, endpoint="http://x", detail="timed out",
                                            retry_at=time.monotonic() + 60))
    allowed, why = hub.download_policy(settings)
    assert not allowed and "unreachable right now" in why and "asks again in 60 s" in why


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_dead_hub_is_asked_again_on_demand_with_backoff_and_cheaply(monkeypatch, settings):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_free_port()}")  # nothing listens there
    monkeypatch.setattr(hub, "_probe", dict(hub._probe, reachable=None, failures=0, retry_at=0.0))
    probes = []
    real = hub.probe_hub
    monkeypatch.setattr(hub, "probe_hub", lambda timeout=4.0: probes.append(timeout) or real(timeout))
    assert hub.probe_hub() is False and hub._probe["failures"] == 1  # the start-up probe
    for _ in range(20):  # requests within the backoff ask nothing
        assert not hub.downloads_allowed(settings)
    assert len(probes) == 1
    monkeypatch.setitem(hub._probe, "retry_at", time.monotonic() - 1)  # the backoff has passed
    assert not hub.downloads_allowed(settings) and len(probes) == 2 and probes[-1] == hub.PROBE_TIMEOUT_S
    wait = hub._probe["retry_at"] - time.monotonic()
    assert hub._probe["failures"] == 2 and hub.RETRY_FIRST_S < wait <= 2 * hub.RETRY_FIRST_S  # doubled
    assert hub.hub_unreachable(settings) and not hub.hub_unreachable(settings.replace(allow_downloads=False))


def test_hub_down_at_start_then_up_a_later_request_downloads_and_generates(fake_hub, online, settings, tmp_path,
                                                                         monkeypatch):
    """No restart: the first request says plainly that the Hub can't be reached; once it answers, the next one
    downloads the model and generates."""
    from models.cache import ModelCache
    from models.registry import build_registry
    from tests.executor_util import make_front, send
    from tests.tiny_models import build_tiny_sd_pipeline

    folder = build_tiny_sd_pipeline(tmp_path / "tiny-sd")
    repo = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    port = _free_port()
    server = FakeHub({"test-org/tiny-sd": repo}, port=port)  # not started yet: the Hub is down
    online(server_at(port))
    monkeypatch.setattr(hub, "_probe", dict(hub._probe, reachable=None, failures=0, retry_at=0.0))
    assert hub.probe_hub(timeout=2) is False  # what the start-up thread finds
    s = settings.replace(t2i_model="test-org/tiny-sd", t2i_safety="off", t2i_tiny_vae="off", device="cpu")
    registry = build_registry(s, ModelCache(2**30), device="cpu")
    pipeline, store = make_front(s, registry=registry)
    first = send(pipeline, "create a red fox, 64x64, 1 step")
    assert first.type == "error" and "can't be reached" in first.message, first.message
    assert "isn't set up" not in first.message
    fake_hub_started = fake_hub({"test-org/tiny-sd": repo}, port=port)  # the Hub comes back
    monkeypatch.setitem(hub._probe, "retry_at", time.monotonic() - 1)  # (its backoff passed: 5 s in real time)
    second = send(pipeline, "create a red fox, 64x64, 1 step")
    assert second.type == "image", second.message
    assert "model_index.json" in fake_hub_started.gets() and hub._probe["reachable"] is True
    assert registry.get("image_generation").backends[0].status().state == "ready"
    store.close()


def server_at(port: int):
    """Something with the `url` a FakeHub at `port` will have (to point clients at it before it starts)."""
    return type("Address", (), {"url": f"http://127.0.0.1:{port}"})()


def test_the_probe_sees_a_reachable_hub_and_a_dead_one(fake_hub, monkeypatch):
    server = fake_hub({})
    monkeypatch.setattr(hub, "_probe", dict(hub._probe))
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    assert hub.probe_hub(timeout=2) is True
    server.stop()
    assert hub.probe_hub(timeout=2) is False


# ---- text-to-image: the GPU default's exact fp16 files, and a first use that downloads then generates ---------
SDXL_TURBO_LISTING_EXTRAS = (  # what else the real repository holds (read off its Hub pages)
    "README.md", "LICENSE.TXT", "sd_xl_turbo_1.0.safetensors", "sd_xl_turbo_1.0_fp16.safetensors",
    "text_encoder/model.safetensors", "text_encoder_2/model.safetensors", "unet/diffusion_pytorch_model.safetensors",
    "vae/diffusion_pytorch_model.safetensors", "unet/model.onnx", "image_quality_one_step.png",
)


def _sdxl_turbo_repo() -> dict[str, bytes]:
    import json

    from models.image_generation import model_source as ms

    files = {name: _blob(2000, i) for i, name in enumerate(ms.preset_files(ms.PRESETS["stabilityai/sdxl-turbo"], "fp16"))}
    files.update({name: _blob(3000, 100 + i) for i, name in enumerate(SDXL_TURBO_LISTING_EXTRAS)})
    files["model_index.json"] = json.dumps({
        "_class_name": "StableDiffusionXLPipeline", "scheduler": ["diffusers", "EulerAncestralDiscreteScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"], "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "tokenizer_2": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}).encode()
    return files


def test_the_preset_list_is_what_the_generic_selection_picks_from_the_real_listing():
    import json

    from models.image_generation import model_source as ms

    repo = _sdxl_turbo_repo()
    picked = ms.pipeline_files(sorted(repo), json.loads(repo["model_index.json"]), "fp16")
    assert set(picked) == set(ms.preset_files(ms.PRESETS["stabilityai/sdxl-turbo"], "fp16"))
    plain = ms.pipeline_files(sorted(repo), json.loads(repo["model_index.json"]), None)
    assert "unet/diffusion_pytorch_model.safetensors" in plain and not any(".fp16." in f for f in plain)


def test_the_gpu_default_downloads_exactly_its_fp16_files(fake_hub, online, settings):
    from models.image_generation import capability
    from models.image_generation import model_source as ms

    repo = _sdxl_turbo_repo()
    checker = {name: _blob(500, 70 + i) for i, name in enumerate(ms.SAFETY_CHECKER_FILES)}
    server = fake_hub({"stabilityai/sdxl-turbo": repo, "CompVis/stable-diffusion-safety-checker": checker})
    online(server)
    backend = capability(settings.replace(device="cuda")).backends[0]
    assert backend.status().state == "downloadable"
    backend.download()  # downloading needs no GPU
    wanted = ms.preset_files(ms.PRESETS["stabilityai/sdxl-turbo"], "fp16")
    assert server.gets("stabilityai/sdxl-turbo") == sorted(wanted)
    assert not any(name in server.gets() for name in SDXL_TURBO_LISTING_EXTRAS)  # no fp32, no single-file, no ONNX
    assert server.gets("CompVis/stable-diffusion-safety-checker") == sorted(ms.SAFETY_CHECKER_FILES)
    assert backend.model_requirement().folder is not None


def test_a_first_text_to_image_request_downloads_the_model_then_generates(fake_hub, online, settings, tmp_path):
    """A non-preset model on CPU: the file list comes from the repository's listing; then a real generation."""
    from models.cache import ModelCache
    from models.contracts import CapabilityRequest
    from models.registry import build_registry
    from tests.tiny_models import build_tiny_sd_pipeline

    folder = build_tiny_sd_pipeline(tmp_path / "tiny-sd")
    repo = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    repo["sd_single_file.ckpt"] = _blob(5000)  # a single-file checkpoint beside the diffusers folders: never fetched
    server = fake_hub({"test-org/tiny-sd": repo})
    online(server)
    s = settings.replace(t2i_model="test-org/tiny-sd", t2i_safety="off", t2i_tiny_vae="off", device="cpu")
    registry = build_registry(s, ModelCache(2**30), device="cpu")
    assert registry.ready_backend("image_generation").name == "diffusers"  # downloadable + allowed
    reports = []
    request = CapabilityRequest("image_generation", "a red fox", params={"width": 64, "height": 64, "steps": 1,
                                                                        "seed": 3},
                                prompt="a red fox", progress=lambda f, d: reports.append(d))
    result = registry.run(request)
    assert result.images and result.images[0].image.size == (64, 64)
    assert "sd_single_file.ckpt" not in server.gets()
    assert any(text.startswith("Downloading test-org/tiny-sd") for text in reports)
    assert registry.get("image_generation").backends[0].status().state == "ready"


def test_download_cli_fetches_against_hf_endpoint_in_a_fresh_process(fake_hub, tmp_path):
    """`python -m models.download upscale` with HF_ENDPOINT set: the environment variable path, end to end."""
    import subprocess
    import sys
    from pathlib import Path

    data = _blob(123_456, 9)
    server = fake_hub({"test-org/sr": {"x4.pth": data}})
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=server.url, HF_HOME=str(tmp_path / "hf-home"), GATEWAY_UPSCALE_MODEL="test-org/sr/x4.pth")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-m", "models.download", "upscale"], cwd=root, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "x4.pth" in out.stdout and server.gets() == ["x4.pth"]
    cached = list((tmp_path / "hf-home" / "hub").rglob("x4.pth"))
    assert cached and cached[0].read_bytes() == data


def test_the_download_cli_retries_a_flaky_fetch_and_skips_an_optional_capability(fake_hub, online, settings,
                                                                                  monkeypatch, capsys):
    """What the Docker build runs: one flaky fetch is tried again; a fetch that keeps failing skips its capability
    with a clear line when an embedded backend still serves it (exit 0), and fails the build only when nothing
    else can serve it (exit 1)."""
    from models import download

    monkeypatch.setattr(download, "RETRY_WAIT_S", 0.01)
    data = _blob(50_000, 11)
    server = fake_hub({"test-org/sr": {"x4.pth": data, "broken.pth": _blob(10)}})
    online(server)
    server.flaky["x4.pth"] = 1
    s = settings.replace(upscale_model="test-org/sr/x4.pth")
    assert download.main(["upscale"], s) == 0
    out = capsys.readouterr()
    assert "try 1 of 3 failed" in out.err and "x4.pth" in out.out
    assert (hub.fetch(hub.HubFiles("test-org/sr", ("x4.pth",))) / "x4.pth").read_bytes() == data
    server.failing.add("broken.pth")
    assert download.main(["upscale", "--retries", "2"], s.replace(upscale_model="test-org/sr/broken.pth")) == 0
    err = capsys.readouterr().err
    assert "upscale/realesrgan: download failed after 2 tries" in err
    assert "Skipped: upscale is served by" in err  # the embedded ncnn upscaler
    assert server.gets("test-org/sr").count("broken.pth") == 2
    hub_t2i = settings.replace(t2i_model="test-org/missing-model", t2i_safety="off", t2i_tiny_vae="off")
    assert download.main(["image_generation", "--retries", "1"], hub_t2i) == 1
    assert "Nothing else can serve image_generation" in capsys.readouterr().err
