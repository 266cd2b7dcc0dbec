"""`python -m pipeline.evaluate FILE.jsonl`: how well the router understands a labelled set of requests.

Reads the schema of `../shared/eval/intents_dev.jsonl` (text, images, last_image, intent, params) or, for
compound requests, `compound_dev.jsonl` (`steps`: an ordered list of {intent, params}), plans every line the
way the app does (a Router over the registry built from the settings, so capability parsers take part) and
prints a confusion table (step by step), per-key parameter accuracy and the misses, then exactly one final
line: `intent_accuracy=0.XXX param_accuracy=0.XXX p95_ms=N.N n=NNN`, or for a file with steps
`plan_accuracy=0.XXX step_accuracy=0.XXX param_accuracy=0.XXX p95_ms=N.N n=NNN`. A plain request counts as
right only when the plan is that one step (a single request wrongly split into two is a miss); a plan is right
when it has exactly the gold intents in the gold order. Latency is one warm `plan()` call per line on one CPU
thread; model loading and training happen before the clock starts. Parameter keys are judged as
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
from pipeline.understand.classify import ClassifyContext

log = logging.getLogger(__name__)

SHORT = {"image_generation": "gen", "face_swap": "face", "background_removal": "bg", "object_removal": "erase",
         "style_transfer": "style", "upscale": "up", "image_edit": "edit", "chat": "chat"}


def load_rows(path: str) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                row = json.loads(line)
                golds = [s.get("intent") for s in row["steps"]] if "steps" in row else [row.get("intent")]
                for gold in golds or [None]:
                    if gold not in INTENTS:
                        raise SystemExit(f"{path}:{number}: unknown intent {gold!r}")
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
    """The Router as the app builds it (pipeline/assemble.py): settings from the environment, every capability."""
    from core.settings import Settings
    from pipeline.assemble import assemble

    return assemble(Settings.from_env(), "router").router


def _one_thread() -> None:
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _predict(router, text: str, context: ClassifyContext) -> list:
    """The steps the app would run for `text`: the router's plan (a one-step plan for a single request)."""
    plan = getattr(router, "plan", None)
    if plan is None:  # a classifier without planning answers one step
        return [router.route(text, context)]
    return [step.intent for step in plan(text, context).steps]


def evaluate(rows: list[dict], router, out=sys.stdout) -> dict:
    """Route every row; plain rows are judged as one-step plans, rows with `steps` step by step."""
    started = time.perf_counter()
    router.warm()
    if "torch" in sys.modules:  # the embedding fell back to torch (or exported its ONNX copy): time one thread
        sys.modules["torch"].set_num_threads(1)
    print(f"router: {router.describe()['classifier']} (ready in {time.perf_counter() - started:.1f} s)", file=out)
    router.route("warm-up message", ClassifyContext())
    latencies, pairs, misses = [], [], []
    key_total, key_correct = Counter(), Counter()
    plans_right = intents_right = 0
    for row in rows:
        context = ClassifyContext(n_images=int(row.get("images", 0)), has_latest_image=bool(row.get("last_image")))
        gold_steps = row["steps"] if "steps" in row else [{"intent": row["intent"], "params": row.get("params") or {}}]
        t = time.perf_counter()
        predicted = _predict(router, row["text"], context)
        latencies.append((time.perf_counter() - t) * 1000)
        wrong_keys = []
        for index, gold in enumerate(gold_steps):
            got = predicted[index] if index < len(predicted) else None
            pairs.append((gold["intent"], got.name if got is not None else None))
            for key, value in (gold.get("params") or {}).items():
                key_total[key] += 1
                if got is not None and judge(key, value, got.params):
                    key_correct[key] += 1
                else:
                    wrong_keys.append(f"step {index + 1} {key}={value!r} got "
                                      f"{got.params.get(key) if got is not None else None!r}")
        gold_names = [g["intent"] for g in gold_steps]
        got_names = [p.name for p in predicted]
        plans_right += got_names == gold_names
        intents_right += len(predicted) == 1 and got_names[0] == gold_names[0] if len(gold_names) == 1 else \
            got_names == gold_names
        if got_names != gold_names or wrong_keys:
            shown = " + ".join(f"{p.name} ({p.confidence:.2f}, {p.source})" for p in predicted)
            misses.append(f"  {row.get('id', '?')}: {row['text']!r} gold={' + '.join(gold_names)} got={shown} "
                          f"{'; '.join(wrong_keys)}")
    _print_confusion(pairs, out)
    print("\nparameters (correct/judged):", file=out)
    for key in sorted(key_total):
        print(f"  {key:10} {key_correct[key]:3d}/{key_total[key]:<3d} {key_correct[key] / key_total[key]:.3f}", file=out)
    if misses:
        print(f"\nmisses ({len(misses)}):", file=out)
        print("\n".join(misses), file=out)
    n = len(rows)
    judged = sum(key_total.values())
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0
    step_total = len(pairs)
    return {"intent_accuracy": intents_right / n if n else 0.0,
            "plan_accuracy": plans_right / n if n else 0.0,
            "step_accuracy": sum(g == p for g, p in pairs) / step_total if step_total else 0.0,
            "param_accuracy": sum(key_correct.values()) / judged if judged else 1.0,
            "p95_ms": p95, "n": n, "has_steps": any("steps" in r for r in rows)}


def _print_confusion(pairs, out) -> None:
    """Gold intent against predicted intent, step by step (`none`: the plan had no such step)."""
    table = Counter(pairs)
    columns = list(INTENTS) + ([None] if any(p is None for _, p in pairs) else [])
    print("\nconfusion (rows = gold, columns = predicted):", file=out)
    print("        " + "".join(f"{SHORT.get(c, 'none'):>6}" for c in columns) + "   recall", file=out)
    for gold in INTENTS:
        total = sum(table[(gold, p)] for p in columns)
        if not total:
            continue
        cells = "".join(f"{table[(gold, p)] or '.':>6}" for p in columns)
        print(f"{SHORT[gold]:>7} {cells}   {table[(gold, gold)] / total:.3f}", file=out)


def final_line(result: dict) -> str:
    """The one machine-read line: plan accuracy for files of compound requests, intent accuracy otherwise."""
    if result.get("has_steps"):
        return (f"plan_accuracy={result['plan_accuracy']:.3f} step_accuracy={result['step_accuracy']:.3f} "
                f"param_accuracy={result['param_accuracy']:.3f} p95_ms={result['p95_ms']:.1f} n={result['n']}")
    return (f"intent_accuracy={result['intent_accuracy']:.3f} param_accuracy={result['param_accuracy']:.3f} "
            f"p95_ms={result['p95_ms']:.1f} n={result['n']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="JSONL file with text, images, last_image, and intent + params or steps")
    args = parser.parse_args(argv)
    _one_thread()
    logging.basicConfig(level=logging.WARNING)
    rows = load_rows(args.file)
    result = evaluate(rows, build_router())
    print(final_line(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
