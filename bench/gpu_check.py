"""Every GPU path of the gateway in one go, on tiny models this script builds (no internet needed); prints a table.

    python bench/gpu_check.py                 # on the GPU (cuda), the deployment check
    python bench/gpu_check.py --device cpu    # the same paths on the CPU (proves the script itself works)

Checks: the runtime facts (torch/CUDA next to the NVIDIA driver and the CUDA it supports, GPU, compute capability,
dtype, ONNX providers; with a GPU torch cannot use, the requirement lines that fix it); text-to-image through the
gateway's diffusers backend on a tiny SDXL-shaped pipeline in the chosen dtype and, on a GPU whose default is
bf16, in fp16 too; spandrel Real-ESRGAN upscaling (tiled, half precision on CUDA) and LaMa inpainting from a
checkpoint in big-lama.ckpt's layout; the ONNX CUDA execution provider when onnxruntime-gpu is installed; the
model cache loading a model bigger than its budget once for three runs; the out-of-memory retry (a real
CUDA OOM on a GPU, a MemoryError on the CPU); and a ZeroGPU dry run: the ZeroGPU executor on the tiny model with
a stand-in `spaces.GPU` that pickles the call like ZeroGPU's worker pipe and records the quota header and the
duration asked (a browser chat's token from a plain thread; measured time replacing the prior). Exit status 1
when any check failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything here is built locally
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROWS: list[tuple[str, str, float, str]] = []


def check(name: str):
    def wrap(fn):
        def run(*args):
            started = time.perf_counter()
            try:
                detail = fn(*args)
                status = "skip" if isinstance(detail, str) and detail.startswith("skip:") else "ok"
                detail = detail[5:].strip() if status == "skip" else detail
            except Exception as exc:  # noqa: BLE001 - every failure becomes a row, the others still run
                status, detail = "FAIL", f"{type(exc).__name__}: {exc}"
                traceback.print_exc(file=sys.stderr)
            ROWS.append((name, status, time.perf_counter() - started, str(detail)))
        return run
    return wrap


def settings_for(device: str, work: Path, **changes):
    from core.settings import Settings

    return Settings.from_env({}, data_dir=work / "data", device=device, t2i_safety="off", t2i_tiny_vae="off",
                             allow_downloads=False, **changes)


@check("runtime")
def runtime(device: str, work: Path) -> str:
    from models.devices import runtime_info

    info = runtime_info(device)
    driver = info.get("nvidia_driver")
    driver = (f"NVIDIA driver {driver.get('version')} (CUDA ≤ {driver.get('cuda')}); " if driver
              else "no NVIDIA driver; ")
    gpu = driver + (f"{info.get('gpu')} cc {info.get('compute_capability')} {info.get('gpu_memory_gb')} GiB; "
                    if info.get("gpu") else "")
    warnings = f"; WARNINGS: {' | '.join(info['warnings'])}" if info["warnings"] else ""
    return (f"{gpu}torch {info['torch']} (CUDA {info['torch_cuda']}, available {info['cuda_available']}), "
            f"dtype {info.get('dtype')}, ONNX {','.join(p.replace('ExecutionProvider', '') for p in info['onnx_providers'])}"
            f"{warnings}")


def _generate(device: str, work: Path, folder: Path) -> str:
    from models.cache import ModelCache
    from models.contracts import CapabilityRequest
    from models.registry import build_registry

    registry = build_registry(settings_for(device, work, t2i_model=str(folder)), ModelCache(2**34), device=device)
    request = CapabilityRequest("image_generation", "a red fox", prompt="a red fox",
                                params={"width": 64, "height": 64, "steps": 2, "seed": 1, "count": 2})
    result = registry.run(request)
    images = result.images
    assert len(images) == 2 and images[0].image.size == (64, 64), "expected two 64x64 images"
    extrema = images[0].image.convert("L").getextrema()
    assert extrema[0] != extrema[1], "a flat image (NaNs in half precision?)"
    recipe = images[0].recipe
    return f"2 images 64x64, dtype {recipe.get('model', {}).get('dtype', recipe.get('dtype'))}, {result.backend}"


@check("text-to-image (device dtype)")
def t2i_default(device: str, work: Path) -> str:
    from tests.tiny_models import build_tiny_sdxl_pipeline

    folder = work / "tiny-sdxl"
    if not folder.exists():
        build_tiny_sdxl_pipeline(folder)
    return _generate(device, work, folder)


@check("text-to-image (fp16 forced)")
def t2i_fp16(device: str, work: Path) -> str:
    import torch

    from models import devices

    if not device.startswith("cuda"):
        return "skip: half precision is a GPU path"
    if devices.torch_dtype(device) == torch.float16:
        return "skip: the device dtype is already fp16 (row above)"
    original = devices.torch_dtype
    devices.torch_dtype = lambda d: torch.float16 if d.startswith("cuda") else original(d)
    try:
        return _generate(device, work, work / "tiny-sdxl")
    finally:
        devices.torch_dtype = original


@check("upscale: spandrel Real-ESRGAN")
def upscale(device: str, work: Path) -> str:
    import torch
    from PIL import Image
    from models.spandrel_compat import import_spandrel

    import_spandrel()  # also without torchvision (requirements-cpu.txt)
    from spandrel.architectures.ESRGAN import ESRGAN

    from models.cache import ModelCache
    from models.contracts import CapabilityRequest, InputImage
    from models.registry import build_registry

    torch.manual_seed(0)
    path = work / "tiny-esrgan.pth"
    torch.save(ESRGAN(num_filters=16, num_blocks=2, scale=4).state_dict(), path)
    registry = build_registry(settings_for(device, work, upscale_model=str(path), upscale_tile=48), ModelCache(2**32),
                              device=device)
    assert registry.ready_backend("upscale").name == "realesrgan"
    image = Image.new("RGB", (96, 80), "red")
    result = registry.run(CapabilityRequest("upscale", "upscale it 4x", params={"scale": 4}, images=[InputImage(image)]))
    assert result.images[0].image.size == (384, 320), result.images[0].image.size
    handle = next(iter(registry.cache._entries.values())).model
    dtype = next(handle.main.model.parameters()).dtype
    return f"96x80 -> 384x320 in 48 px tiles, weights {str(dtype).replace('torch.', '')} on {handle.device}"


@check("object removal: LaMa (big-lama.ckpt layout)")
def lama(device: str, work: Path) -> str:
    import numpy as np
    import torch
    from models.spandrel_compat import import_spandrel

    import_spandrel()  # also without torchvision (requirements-cpu.txt)
    from spandrel.architectures.LaMa import LaMa

    from models.object_removal.lama_backend import load_lama

    torch.manual_seed(0)
    path = work / "lama.ckpt"
    state = {f"generator.{k}": v for k, v in LaMa(in_nc=4, out_nc=3).model.state_dict().items()}
    torch.save({"state_dict": state, "pytorch-lightning_version": "1.2.9"}, path)
    descriptor = load_lama(path, device)
    image = torch.rand(1, 3, 128, 128, device=device)
    mask = torch.zeros(1, 1, 128, 128, device=device)
    mask[..., 32:96, 32:96] = 1
    with torch.inference_mode():
        out = descriptor(image, mask)
    assert out.shape == (1, 3, 128, 128) and bool(torch.isfinite(out).all())
    return f"128x128 inpaint on {out.device}, max |out| {float(np.abs(out.cpu().numpy()).max()):.2f}"


@check("ONNX: CUDA execution provider")
def onnx_cuda(device: str, work: Path) -> str:
    import numpy as np
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper

    available = onnxruntime.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        return f"skip: onnxruntime {onnxruntime.__version__} offers {', '.join(available)} (install onnxruntime-gpu)"
    if not device.startswith("cuda"):
        return "skip: --device cpu"
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = work / "relu.onnx"
    onnx.save(model, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    out = session.run(None, {"x": np.array([[-1, 2, -3, 4]], dtype=np.float32)})[0]
    assert out.tolist() == [[0, 2, 0, 4]]
    used = session.get_providers()
    assert used[0] == "CUDAExecutionProvider", f"the session fell back to {used} (CUDA/cuDNN libraries missing?)"
    return f"session providers {used}"


@check("cache: model bigger than the budget, 3 runs")
def cache_reuse(device: str, work: Path) -> str:
    import torch

    from models.cache import ModelCache

    loads = []

    def loader():
        loads.append(1)
        return torch.nn.Linear(256, 256).to(device)

    cache = ModelCache(1024)  # bytes: far below the model's 263 KB
    for _ in range(3):
        cache.run("big", loader, lambda m: m(torch.ones(1, 256, device=device)).sum().item())
    stats = cache.stats()
    assert len(loads) == 1 and stats["hits"] == 2, stats
    return f"1 load, 2 hits, {stats['used_bytes']} B resident over a {stats['budget_bytes']} B budget"


@check("out-of-memory: evict and retry once")
def oom_retry(device: str, work: Path) -> str:
    import torch

    from models.cache import ModelCache

    cache = ModelCache(2**40)
    attempts = []

    def run(model):
        attempts.append(1)
        if len(attempts) == 1:
            if device.startswith("cuda"):
                free, _ = torch.cuda.mem_get_info()
                torch.empty(int(free * 2), dtype=torch.uint8, device=device)  # a real CUDA OOM
            raise MemoryError("simulated on the CPU")
        return "second attempt ran"

    with cache.use("resident", lambda: torch.nn.Linear(8, 8)):
        pass
    result = cache.run("work", lambda: torch.nn.Linear(8, 8).to(device), run)
    stats = cache.stats()
    assert result == "second attempt ran" and stats["oom_retries"] == 1 and "resident" not in cache.keys(), stats
    kind = "real CUDA OOM" if device.startswith("cuda") else "MemoryError (simulated)"
    return f"{kind} -> unpinned models evicted, retried once, succeeded"


@check("ZeroGPU dry run: spaces.GPU path")
def zerogpu_dry_run(device: str, work: Path) -> str:
    import threading

    from models.cache import ModelCache
    from models.contracts import CapabilityRequest
    from models.registry import build_registry
    from pipeline.executors.zerogpu import ZeroGpuExecutor, preload
    from tests.fake_spaces import FakeSpaces

    folder = work / "tiny-sdxl"
    if not folder.exists():
        return "skip: needs the text-to-image row's tiny model"
    registry = build_registry(settings_for(device, work, t2i_model=str(folder)), ModelCache(2**34), device=device)
    spaces = FakeSpaces()
    executor = ZeroGpuExecutor(registry, 1, spaces_module=spaces)
    preloaded = preload(registry, device)
    results = []

    def browser_chat(seed: int):  # a plain thread with no Gradio request, as a browser chat runs
        request = CapabilityRequest("image_generation", "a red fox", prompt="a red fox", credentials={
            "x_ip_token": "dry-run-quota-token"}, params={"width": 64, "height": 64, "steps": 2, "seed": seed})
        results.append(executor.run(request))

    for seed in (1, 2):
        thread = threading.Thread(target=browser_chat, args=(seed,))
        thread.start()
        thread.join(600)
    assert len(results) == 2 and all(r.images for r in results), "the dry run made no image"
    tokens = {call["x-ip-token"] for call in spaces.calls}
    assert tokens == {"dry-run-quota-token"}, f"spaces.GPU saw {tokens}"
    asked = [call["duration"] for call in spaces.calls]
    seconds = [r.metadata["gpu_seconds"] for r in results]
    assert all(r.metadata["gpu_model_was_loaded"] for r in results), "the model was loaded inside the GPU call"
    return (f"caller's token reached spaces.GPU; asked {asked[0]} s (prior) then {asked[1]} s (measured); "
            f"GPU function ran {seconds[0]:.2f} s and {seconds[1]:.2f} s with the model loaded before it "
            f"(preloaded: {len(preloaded)}, a local folder loads on first use)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:1, or cpu")
    args = parser.parse_args()
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        from models.devices import runtime_info

        warnings = " ".join(runtime_info("auto")["warnings"])
        print(f"CUDA is not available to torch {torch.__version__}; run with --device cpu. {warnings}".strip(),
              file=sys.stderr)
        return 2
    torch.set_num_threads(1) if args.device == "cpu" else None
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        work = Path(tmp)
        for step in (runtime, t2i_default, t2i_fp16, upscale, lama, onnx_cuda, cache_reuse, oom_retry,
                     zerogpu_dry_run):
            step(args.device, work)
    width = max(len(r[0]) for r in ROWS)
    print(f"\n{'check':<{width}}  status  seconds  detail")
    for name, status, seconds, detail in ROWS:
        print(f"{name:<{width}}  {status:<6}  {seconds:7.2f}  {detail}")
    return 1 if any(status == "FAIL" for _, status, _, _ in ROWS) else 0


if __name__ == "__main__":
    raise SystemExit(main())
