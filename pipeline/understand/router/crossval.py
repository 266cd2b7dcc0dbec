"""`python -m pipeline.understand.router.crossval [-k 5]`: k-fold cross-validation of the router on its own phrases.

Each fold's model (vectorisers included) is trained without the held-out phrases, in any context, and scores
them in the context they were written for — with and without the MiniLM embedding. Also reports how often the
exact rules decide and how precise they are, the expected calibration error of the model's confidence, and
how many messages the clarification threshold would send back to the user. Never reads the dev set.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter

import numpy as np

from pipeline.understand.router import rules
from pipeline.understand.router.embedding import SentenceEncoder
from pipeline.understand.router.model import ModelConfig, cross_validate, load_examples


def calibration_error(confidence: list[float], correct: list[bool], bins: int = 10) -> float:
    """Expected calibration error: |accuracy − confidence| averaged over equal-width confidence bins."""
    conf, ok = np.asarray(confidence), np.asarray(correct, dtype=float)
    total = 0.0
    for low in np.linspace(0, 1, bins, endpoint=False):
        inside = (conf > low) & (conf <= low + 1 / bins)
        if inside.any():
            total += inside.sum() / len(conf) * abs(ok[inside].mean() - conf[inside].mean())
    return float(total)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.understand.router.crossval", description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", type=int, default=5, help="number of folds (default 5)")
    parser.add_argument("--lexical-only", action="store_true", help="skip the embedding variant (no torch)")
    parser.add_argument("--threshold", type=float, default=0.5, help="clarification threshold to report on")
    args = parser.parse_args(argv)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from core.settings import Settings
    from pipeline.understand.router import Router

    examples = load_examples()
    per_intent = sorted(Counter(e.intent for e in examples).items())
    print(f"{len(examples)} phrases: " + ", ".join(f"{k} {v}" for k, v in per_intent))
    decided = [(rules.decide(e.text, e.context), e) for e in examples]
    fired = [(r, e) for r, e in decided if r is not None]
    print(f"rules decide {len(fired)}/{len(examples)} phrases, precision "
          f"{sum(r.intent == e.intent for r, e in fired) / max(len(fired), 1):.3f}")
    variants = [("words + context", ModelConfig(use_embedding=False), None)]
    encoder = SentenceEncoder(cache_dir=Router(Settings.from_env())._cache_dir())
    if not args.lexical_only and encoder.available():
        variants.append(("words + context + MiniLM", ModelConfig(use_embedding=True), encoder.encode_cached))
    for label, config, embed in variants:
        started = time.perf_counter()
        result = cross_validate(examples, config, embed, k=args.k)
        combined = [r.intent == e.intent if r is not None else ok for (r, e), ok in zip(decided, result["correct"])]
        ambiguous = [c < args.threshold for c in result["confidence"]]
        confident_ok = [ok for ok, amb in zip(result["correct"], ambiguous) if not amb]
        print(f"{label}: {args.k}-fold accuracy {result['accuracy']:.3f} (with rules first {np.mean(combined):.3f}), "
              f"calibration error {calibration_error(result['confidence'], result['correct']):.3f}, "
              f"below {args.threshold}: {sum(ambiguous)} ({np.mean(ambiguous):.1%}), accuracy of the rest "
              f"{np.mean(confident_ok):.3f} [{time.perf_counter() - started:.0f} s]")
        misses = Counter((e.intent, p) for e, p, ok in zip(examples, result["predicted"], result["correct"]) if not ok)
        print("  most confused (gold → predicted): " + ", ".join(f"{g}→{p} {n}" for (g, p), n in misses.most_common(6)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
