"""Benchmark of the executors: what a run costs through Ray or a remote worker next to the local executor, and
how 20 concurrent cheap runs spread over 1 or 2 Ray replicas / 1 or 2 remote workers.

Workloads (the same request objects for every executor): `generate` = a tiny random-weight Stable Diffusion
(tests/tiny_models.py) at 64x64, 2 steps, fixed seed — a cheap model run; `generate-longer` = the same model at
128x128, 12 steps (a run of about a second, closer to a real one); `rotate` = "rotate it 90 degrees" on a
256x256 photo — model-free work. Overhead: each executor warmed up, then the runs interleaved (so other load
on the machine hits them alike); median wall seconds per run and the ratio to local (goals: Ray on one box
≤ 1.10x, a remote worker on loopback ≤ 1.25x, for the `generate` run). Throughput: 20 `generate` runs
submitted at once (distinct seeds) from 20 threads, after one such round to warm every replica or worker; total
wall time, runs/s, p50 and p95 latency. Local has
one model slot (GATEWAY_CONCURRENCY_LIMIT=1); Ray replicas reserve 0.5 CPU each on a local Ray of 2 CPUs;
workers are `python app.py` processes with GATEWAY_ROLE=worker on loopback. Every process uses one inference
thread. Numbers on a shared machine are inflated by its other load: compare rows of one run, not runs.

Run: `python bench/bench_executors.py [--repeats 10] [--concurrent 20] [--skip-ray] [--skip-remote]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

common.setup()

TOKEN = "bench-worker-token"


def requests_for(seed: int):
    from models.contracts import CapabilityRequest, InputImage
    from PIL import Image
    from skimage import data

    photo = Image.fromarray(data.astronaut()).resize((256, 256))
    generate = CapabilityRequest("image_generation", "a red fox, 64x64, 2 steps", prompt="a red fox",
                                 params={"width": 64, "height": 64, "steps": 2, "seed": seed})
    longer = CapabilityRequest("image_generation", "a red fox, 128x128, 12 steps", prompt="a red fox",
                               params={"width": 128, "height": 128, "steps": 12, "seed": seed})
    rotate = CapabilityRequest("image_edit", "rotate it 90 degrees", params={"operation": "rotate", "angle": 90},
                               images=[InputImage(photo, image_id="photo")])
    return {"generate": generate, "generate-longer": longer, "rotate": rotate}


def fresh(request):
    from dataclasses import replace

    return replace(request, params=dict(request.params))


def overhead(executors: dict, repeats: int) -> None:
    print("\n## Overhead per run (median wall s; ratio to local)\n")
    print("| workload | " + " | ".join(executors) + " |")
    print("|---|" + "---|" * len(executors))
    for workload in ("generate", "generate-longer", "rotate"):
        request = requests_for(7)[workload]
        for executor in executors.values():  # warm: model loaded, connections open
            executor.run(fresh(request))
        times = {name: [] for name in executors}
        for _ in range(repeats):
            for name, executor in executors.items():
                started = time.perf_counter()
                executor.run(fresh(request))
                times[name].append(time.perf_counter() - started)
        base = statistics.median(times["local"])
        cells = [f"{statistics.median(t):.4f} ({statistics.median(t) / base:.2f}x)" for t in times.values()]
        print(f"| {workload} | " + " | ".join(cells) + " |")


def throughput(name: str, executor, concurrent: int) -> str:
    def one(seed):
        started = time.perf_counter()
        executor.run(fresh(requests_for(seed)["generate"]))
        return time.perf_counter() - started

    with ThreadPoolExecutor(concurrent) as pool:  # warm every replica / worker: each loads the model once
        list(pool.map(one, range(concurrent)))
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrent) as pool:
        latencies = sorted(pool.map(one, range(1, concurrent + 1)))
    total = time.perf_counter() - started
    p95 = latencies[min(len(latencies) - 1, int(round(0.95 * len(latencies))) - 1)]
    return (f"| {name} | {concurrent} | {total:.2f} | {concurrent / total:.2f} | {statistics.median(latencies):.2f} "
            f"| {p95:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-remote", action="store_true")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from core.settings import Settings
    from models.cache import ModelCache
    from models.registry import build_registry
    from pipeline.executors import LocalExecutor
    from tests.tiny_models import build_tiny_sd_pipeline

    work = Path(tempfile.mkdtemp(prefix="bench-executors-"))
    tiny = build_tiny_sd_pipeline(work / "tiny-sd")
    settings = Settings.from_env({}, data_dir=work / "data", t2i_model=str(tiny), t2i_safety="off", ray_num_cpus=2,
                                 ray_cpus_per_replica=0.5, worker_token=TOKEN)
    registry = build_registry(settings, ModelCache(2**30), device="cpu")
    local = LocalExecutor(registry, model_slots=1)
    rows = [throughput("local (1 model slot)", local, args.concurrent)]
    executors = {"local": local}
    closers = []
    try:
        if not args.skip_ray:
            from pipeline.executors.ray_executor import RayExecutor

            for replicas in (1, 2):
                ray = RayExecutor(settings.replace(ray_min_replicas=replicas, ray_max_replicas=replicas), registry)
                ray.wait_ready()
                rows.append(throughput(f"ray, {replicas} replica{'s' if replicas > 1 else ''}", ray,
                                       args.concurrent))
                if replicas == 1:
                    executors["ray (1 box)"] = ray
                    overhead(executors, args.repeats)
                    del executors["ray (1 box)"]
                ray.close()
        if not args.skip_remote:
            from pipeline.executors.remote import RemoteExecutor
            from tests.server_util import Server, free_port

            servers = []
            for index in range(2):
                data = work / f"worker{index}" / "data"
                data.mkdir(parents=True)
                servers.append(Server(data, free_port(), env={
                    "GATEWAY_ROLE": "worker", "GATEWAY_WORKER_TOKEN": TOKEN, "GATEWAY_T2I_MODEL": str(tiny),
                    "GATEWAY_T2I_SAFETY": "off", "OMP_NUM_THREADS": "1",
                    "GATEWAY_MODEL_QUEUE_MAX": str(2 * args.concurrent)}).start())  # all 20 may wait
                closers.append(servers[-1].stop)
            for count in (1, 2):
                remote = RemoteExecutor(settings.replace(
                    executor="remote", remote_workers=",".join(s.url for s in servers[:count])), registry)
                closers.append(remote.close)
                for worker in remote.workers:
                    remote.check(worker)
                rows.append(throughput(f"remote, {count} worker{'s' if count > 1 else ''}", remote, args.concurrent))
                if count == 1:
                    overhead({"local": local, "remote (loopback)": remote}, args.repeats)
    finally:
        for close in reversed(closers):
            close()
    print(f"\n## {args.concurrent} concurrent `generate` runs\n")
    print("| executor | runs | total s | runs/s | p50 s | p95 s |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
