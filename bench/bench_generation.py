"""Benchmark of image_generation: seconds per image and steps/s of the gateway next to plain diffusers.

Same model folder, size, steps, guidance and seed in every row; one process per size. Each row is loaded and
run once (load time; peak RSS and GPU memory after it: RSS is the process's high-water mark, so later rows
include the earlier ones), then the rows' timed runs are interleaved so that other load on the machine hits
them alike; medians. Rows: `plain` = `AutoPipelineForText2Image.from_pretrained(folder)` called directly in the
precision a plain script uses (fp16 on CUDA, fp32 on CPU); `plain-same` (CUDA only) = plain diffusers with the
gateway's precision and memory format, to isolate the gateway's own overhead; `gateway` = the real backend
through `Registry.run` (planning, recipes, A1111 metadata included; safety check off in every row); with
`--compile` (CUDA), `gateway-compile` turns on `GATEWAY_T2I_COMPILE`. Ratio = row time / plain time.

The model is `--model` (a diffusers folder or a cached hub id), or one built here with random weights from the
architecture's config (`--arch`): speed does not depend on weight values. `mini` (SD's topology at a fraction
of the width) is the CPU default because real models are too slow for a CPU benchmark here (an SD-class UNet
step at 512² takes ~15 s and a full VAE decode ~40 s on one core); on a GPU use
`--arch sdxl-turbo --steps 1 --sizes 512`, `--arch sdxl --steps 30 --guidance 6 --sizes 1024 --compile` or
`--model stabilityai/sdxl-turbo`.

Run: `python bench/bench_generation.py [--arch mini|sd-turbo|sdxl-turbo|sdxl | --model PATH_OR_ID]
[--sizes 512 1024] [--steps 2] [--guidance 0] [--repeats 3] [--threads 1] [--device auto] [--compile]`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for key, value in {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}.items():
    os.environ.setdefault(key, value)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROMPT = "a red fox in the snow, watercolor"

_CLIP_L = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
               hidden_act="quick_gelu", projection_dim=768)
_CLIP_BIG_G = dict(hidden_size=1280, intermediate_size=5120, num_attention_heads=20, num_hidden_layers=32,
                   hidden_act="gelu", projection_dim=1280)
_OPENCLIP_H = dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=23,
                   hidden_act="gelu", projection_dim=512)
_SD_VAE = dict(block_out_channels=[128, 256, 512, 512], down_block_types=["DownEncoderBlock2D"] * 4,
               up_block_types=["UpDecoderBlock2D"] * 4, latent_channels=4, layers_per_block=2, norm_num_groups=32)
# UNet configs as published in the models' unet/config.json (sd-turbo = SD 2.1 base, SDXL-Turbo = SDXL base).
ARCHS = {
    "sd-turbo": {"unet": dict(sample_size=64, block_out_channels=[320, 640, 1280, 1280], layers_per_block=2,
                              attention_head_dim=[5, 10, 20, 20], cross_attention_dim=1024, use_linear_projection=True,
                              down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
                              up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3),
                 "text": [_OPENCLIP_H], "vae": dict(_SD_VAE, scaling_factor=0.18215, sample_size=512)},
    "sdxl-turbo": {"unet": dict(sample_size=64, block_out_channels=[320, 640, 1280], layers_per_block=2,
                                attention_head_dim=[5, 10, 20], cross_attention_dim=2048, use_linear_projection=True,
                                transformer_layers_per_block=[1, 2, 10], addition_embed_type="text_time",
                                addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816,
                                down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                                up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"]),
                   "text": [_CLIP_L, _CLIP_BIG_G],
                   "vae": dict(_SD_VAE, scaling_factor=0.13025, sample_size=1024, force_upcast=True)},
}
ARCHS["sdxl"] = {**ARCHS["sdxl-turbo"], "unet": dict(ARCHS["sdxl-turbo"]["unet"], sample_size=128)}
# A CPU-sized model with SD's real topology: 8x VAE, attention only at 1/2 and 1/4 of the latent (as SDXL), so
# 512² and 1024² run in seconds. (The tests' 64x64 model has attention at half the latent size and a 2x VAE:
# at 1024² that is a 65,536-token self-attention, minutes on a CPU.)
ARCHS["mini"] = {"unet": dict(sample_size=64, block_out_channels=[32, 64, 64], layers_per_block=1, attention_head_dim=8,
                              cross_attention_dim=32, norm_num_groups=8,
                              down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                              up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"]),
                 "text": [dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=2,
                               hidden_act="gelu", projection_dim=32)],
                 "vae": dict(_SD_VAE, block_out_channels=[8, 16, 32, 32], layers_per_block=1, norm_num_groups=8,
                             scaling_factor=0.18215, sample_size=512)}


def random_pipeline(arch: str, folder: Path, device: str) -> Path:
    """A full-size pipeline of `arch` with random weights, built on `device` and saved (fp16 on CUDA)."""
    import torch
    from diffusers import (AutoencoderKL, EulerAncestralDiscreteScheduler, StableDiffusionPipeline,
                           StableDiffusionXLPipeline, UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from tests.tiny_models import build_clip_tokenizer

    spec = ARCHS[arch]
    tokenizer = build_clip_tokenizer(folder / "_tokenizer")
    torch.manual_seed(0)
    with torch.device(device):  # random init straight on the device: seconds on a GPU
        unet = UNet2DConditionModel(**spec["unet"])
        vae = AutoencoderKL(**spec["vae"])
        encoders = [(CLIPTextModelWithProjection if i else CLIPTextModel)(CLIPTextConfig(
            vocab_size=49408, max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1, **cfg))
            for i, cfg in enumerate(spec["text"])]
    scheduler = EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                                steps_offset=1, timestep_spacing="trailing")
    if len(encoders) == 1:
        pipe = StableDiffusionPipeline(vae=vae, text_encoder=encoders[0], tokenizer=tokenizer, unet=unet,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    else:
        pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=encoders[0], text_encoder_2=encoders[1],
                                         tokenizer=tokenizer, tokenizer_2=tokenizer, unet=unet, scheduler=scheduler)
    if device.startswith("cuda"):
        pipe.to(torch.float16)
    pipe.save_pretrained(folder)
    shutil.rmtree(folder / "_tokenizer", ignore_errors=True)
    return folder


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def make_row(row: str, model: str, steps: int, guidance: float, device: str):
    """A function size -> PIL image for one row, with its model loaded."""
    import torch

    from models.devices import torch_dtype

    if row.startswith("gateway"):
        from core.settings import Settings
        from models.cache import ModelCache
        from models.contracts import CapabilityRequest
        from models.image_generation import capability
        from models.registry import Registry

        settings = Settings.from_env({}, t2i_model=model, t2i_safety="off", device=device,
                                     t2i_compile=row == "gateway-compile")
        registry = Registry(ModelCache(2**40), device)
        registry.add(capability(settings))

        def generate(size):
            params = {"width": size, "height": size, "steps": steps, "guidance": guidance, "seed": 0, "count": 1}
            return registry.run(CapabilityRequest("image_generation", PROMPT, params=params)).images[0].image
        return generate

    from diffusers import AutoPipelineForText2Image

    from models.image_generation.engine import apply_speedups

    plain_dtype = torch.float16 if device.startswith("cuda") else torch.float32
    pipe = AutoPipelineForText2Image.from_pretrained(
        model, dtype=torch_dtype(device) if row == "plain-same" else plain_dtype).to(device)
    if getattr(pipe, "safety_checker", None) is not None:
        pipe.safety_checker = None  # the gateway rows run without the check too
    if row == "plain-same":
        apply_speedups(pipe, device)
    pipe.set_progress_bar_config(disable=True)
    return lambda size: pipe(PROMPT, num_inference_steps=steps, guidance_scale=guidance, width=size, height=size,
                             generator=torch.Generator("cpu").manual_seed(0)).images[0]


def worker(rows: list[str], model: str, size: int, steps: int, guidance: float, repeats: int, threads: int,
           device: str) -> list[dict]:
    import torch

    torch.set_num_threads(threads)
    cuda = device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    generators, results = {}, {}
    for row in rows:
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        generators[row] = make_row(row, model, steps, guidance, device)
        image = generators[row](size)  # first call: the gateway loads its model here; compile; warm-up
        sync()
        assert image.size == (size, size)
        results[row] = {"row": row, "size": size, "load_s": time.perf_counter() - started, "times": [],
                        "rss_mb": _peak_rss_mb(),
                        "gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None}
    for _ in range(repeats):
        for row in rows:
            sync()
            t0 = time.perf_counter()
            generators[row](size)
            sync()
            results[row]["times"].append(time.perf_counter() - t0)
    for r in results.values():
        r["seconds"] = statistics.median(r.pop("times"))
        r["steps_per_s"] = steps / r["seconds"]
    return list(results.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="diffusers folder or cached hub id (default: build --arch)")
    parser.add_argument("--arch", default="mini", choices=list(ARCHS))
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--guidance", type=float, default=0.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true", help="add a gateway row with torch.compile (CUDA)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    from models.devices import resolve_device

    device = resolve_device(args.device)
    if args.worker:
        rows = worker(args.worker, args.model, args.sizes[0], args.steps, args.guidance, args.repeats, args.threads,
                      device)
        print("RESULT " + json.dumps(rows), flush=True)
        return
    with tempfile.TemporaryDirectory(prefix="bench-t2i-") as tmp:
        model = args.model
        if not model:
            t0 = time.perf_counter()
            model = str(random_pipeline(args.arch, Path(tmp) / f"{args.arch}-random", device))
            print(f"built {args.arch} with random weights in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        rows = ["plain"] + (["plain-same"] if device.startswith("cuda") else []) + ["gateway"] \
            + (["gateway-compile"] if args.compile and device.startswith("cuda") else [])
        results = []
        for size in args.sizes:  # a fresh process per size: peak RSS is that size's
            command = [sys.executable, __file__, "--worker", *rows, "--model", model, "--sizes", str(size),
                       "--steps", str(args.steps), "--guidance", str(args.guidance), "--repeats", str(args.repeats),
                       "--threads", str(args.threads), "--device", device]
            out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
            if out.returncode or not lines:
                print(f"{size}² failed:\n{out.stderr[-3000:]}", file=sys.stderr)
                continue
            results += json.loads(lines[-1][len("RESULT "):])
    print_table(results, args, device)


def print_table(results: list[dict], args, device: str) -> None:
    plain = {r["size"]: r["seconds"] for r in results if r["row"] == "plain"}
    print(f"\nimage_generation · model {args.model or args.arch + ' (random weights)'} · {device} · "
          f"{args.steps} steps · guidance {args.guidance:g} · {args.threads} thread(s) · median of {args.repeats}\n")
    print("| row | size | s / image | steps/s | × plain | load + 1st run s | peak RSS MB | peak GPU MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        ratio = f"{r['seconds'] / plain[r['size']]:.3f}" if r["size"] in plain else "–"
        gpu = f"{r['gpu_mb']:.0f}" if r["gpu_mb"] is not None else "–"
        print(f"| {r['row']} | {r['size']}² | {r['seconds']:.3f} | {r['steps_per_s']:.2f} | {ratio} | "
              f"{r['load_s']:.1f} | {r['rss_mb']:.0f} | {gpu} |")


if __name__ == "__main__":
    main()
