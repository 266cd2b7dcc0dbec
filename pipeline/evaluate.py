"""`python -m pipeline.evaluate FILE.jsonl`: how well the router understands a labelled set of requests.

Reads the schema of `../shared/eval/intents_dev.jsonl` (text, images, last_image, intent, params), routes every
line the way the app does (a Router over the registry built from the settings, so capability parsers take
part), and prints a confusion table, per-key parameter accuracy and the misses, then exactly one final line:
`intent_accuracy=0.XXX param_accuracy=0.XXX p95_ms=N.N n=NNN`. Latency is one warm `route()` call per line
on one CPU thread; model loading and training happen before the clock starts. Parameter keys are judged as
`../shared/eval/README.md` says (target and style: the label appears in what was extracted; negative: every
word appears in the negative prompt).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import Counter

from core.vocabulary import INTENTS
from pipeline.classify import ClassifyContext

log = logging.getLogger(__name__)

SHORT = {"image_generation": "gen", "face_swap": "face", "background_removal": "bg", "object_removal": "erase",
         "style_transfer": "style", "upscale": "up", "image_edit": "edit", "chat": "chat"}


def load_rows(path: str) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                row = json.loads(line)
                if row.get("intent") not in INTENTS:
                    raise SystemExit(f"{path}:{number}: unknown intent {row.get('intent')!r}")
                rows.append(row)
    return rows


def judge(key: str, gold, params: dict) -> bool:
    """Is the gold value of `key` what the router extracted? (rules of ../shared/eval/README.md)"""
    if key == "target":
        return str(gold).lower() in str(params.get("target", "")).lower()
    if key == "style":
        found = " ".join(str(params.get(k, "")) for k in ("style", "style_name", "style_prompt", "prompt"))
        return str(gold).lower() in found.lower()
    if key == "negative":
        negative = params.get("negative", "")
        negative = " , ".join(negative) if isinstance(negative, (list, tuple)) else str(negative)
        words = gold if isinstance(gold, list) else [gold]
        return all(str(w).lower() in negative.lower() for w in words)
    if key in ("aspect", "operation", "background"):
        value = str(params.get(key, "")).lower().replace(" ", "")
        return value == str(gold).lower().replace(" ", "") or (key == "background" and _same_grey(value, gold))
    try:
        return float(params.get(key)) == float(gold)
    except (TypeError, ValueError):
        return False


def _same_grey(value: str, gold) -> bool:
    return {value, str(gold).lower()} <= {"gray", "grey"}


def build_router():
    """The Router as the app builds it: settings from the environment, the registry with every capability."""
    from core.settings import Settings
    from models.cache import ModelCache
    from models.devices import cache_budget_bytes, resolve_device
    from models.registry import build_registry
    from pipeline.router import Router

    settings = Settings.from_env()
    try:
        budget = lambda: cache_budget_bytes(settings.cache_budget_gb, resolve_device(settings.device))  # noqa: E731
        registry = build_registry(settings, ModelCache(budget))
    except (ImportError, ValueError) as exc:  # a capability package not there yet: generic parameters only
        print(f"note: capability registry unavailable ({exc}); using the generic parameter parser only",
              file=sys.stderr)
        registry = None
    return Router(settings, registry)


def _one_thread() -> None:
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def evaluate(rows: list[dict], router, out=sys.stdout) -> dict:
    started = time.perf_counter()
    router.warm()
    if "torch" in sys.modules:  # the embedding fell back to torch (or exported its ONNX copy): time one thread
        sys.modules["torch"].set_num_threads(1)
    print(f"router: {router.describe()['classifier']} (ready in {time.perf_counter() - started:.1f} s)", file=out)
    router.route("warm-up message", ClassifyContext())
    latencies, predictions, misses = [], [], []
    key_total, key_correct = Counter(), Counter()
    for row in rows:
        context = ClassifyContext(n_images=int(row.get("images", 0)), has_latest_image=bool(row.get("last_image")))
        t = time.perf_counter()
        intent = router.route(row["text"], context)
        latencies.append((time.perf_counter() - t) * 1000)
        predictions.append(intent.name)
        wrong_keys = []
        for key, gold in (row.get("params") or {}).items():
            key_total[key] += 1
            if judge(key, gold, intent.params):
                key_correct[key] += 1
            else:
                wrong_keys.append(f"{key}={gold!r} got {intent.params.get(key)!r}")
        if intent.name != row["intent"] or wrong_keys:
            misses.append(f"  {row.get('id', '?')}: {row['text']!r} gold={row['intent']} got={intent.name} "
                          f"({intent.confidence:.2f}, {intent.source}) {'; '.join(wrong_keys)}")
    _print_confusion(rows, predictions, out)
    print("\nparameters (correct/judged):", file=out)
    for key in sorted(key_total):
        print(f"  {key:10} {key_correct[key]:3d}/{key_total[key]:<3d} {key_correct[key] / key_total[key]:.3f}", file=out)
    if misses:
        print(f"\nmisses ({len(misses)}):", file=out)
        print("\n".join(misses), file=out)
    n = len(rows)
    intent_accuracy = sum(p == r["intent"] for p, r in zip(predictions, rows)) / n if n else 0.0
    judged = sum(key_total.values())
    param_accuracy = sum(key_correct.values()) / judged if judged else 1.0
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0
    return {"intent_accuracy": intent_accuracy, "param_accuracy": param_accuracy, "p95_ms": p95, "n": n}


def _print_confusion(rows, predictions, out) -> None:
    table = Counter((r["intent"], p) for r, p in zip(rows, predictions))
    print("\nconfusion (rows = gold, columns = predicted):", file=out)
    print("        " + "".join(f"{SHORT[c]:>6}" for c in INTENTS) + "   recall", file=out)
    for gold in INTENTS:
        total = sum(table[(gold, p)] for p in INTENTS)
        if not total:
            continue
        cells = "".join(f"{table[(gold, p)] or '.':>6}" for p in INTENTS)
        print(f"{SHORT[gold]:>7} {cells}   {table[(gold, gold)] / total:.3f}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="JSONL file with text, images, last_image, intent, params")
    args = parser.parse_args(argv)
    _one_thread()
    logging.basicConfig(level=logging.WARNING)
    rows = load_rows(args.file)
    result = evaluate(rows, build_router())
    print(f"intent_accuracy={result['intent_accuracy']:.3f} param_accuracy={result['param_accuracy']:.3f} "
          f"p95_ms={result['p95_ms']:.1f} n={result['n']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
