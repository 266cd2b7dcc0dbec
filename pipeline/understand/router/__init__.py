"""Understanding a message: intent + parameters (the pipeline's classify step), and plans of several steps.

`Router.route(text, context, forced_intent=None) -> Intent` decides what the user wants in three tiers:
exact rules (`rules.py`, microseconds, no model), else a logistic regression over words, cues, the chat
context and a MiniLM sentence embedding (`model.py`, `embedding.py`), else — when the embedding model or
scikit-learn is missing — the same regression without the embedding, or the dependency-free
`KeywordClassifier`. Probabilities are temperature-calibrated; below `router_min_confidence` the intent is
marked ambiguous and the pipeline asks which of the top candidates was meant. A forced intent (the "not what
I meant" chip) skips classification. `Intent.params` holds the generic parameters (`pipeline.understand.params`) with
the capability's own `parse_params` merged over them. The model trains on first use or in `warm()`, once,
behind a lock, and is cached on disk (`router_cache_dir`, content-keyed). A message never imports
diffusers; one decided by a rule imports no model library at all.

`Router.plan(text, context)` splits a compound request into ordered steps, each routed as above (`plan.py`).
A message in Spanish, French, German, Portuguese, Italian, Japanese or Chinese (a character n-gram language
identifier decides) goes to the multilingual model instead of the English one (`multilingual.py`), and its
parameter words are read through an English gloss (`gloss.py`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import threading
import time
from pathlib import Path

from core.vocabulary import INTENTS
from pipeline.understand.classify import ClassifyContext, Intent, KeywordClassifier
from pipeline.understand.params import extract_params as extract_generic_params
from pipeline.understand.router import rules
from pipeline.understand.router.gloss import gloss
from pipeline.understand.wordlists import normalise
from pipeline.understand.router.embedding import SentenceEncoder
from pipeline.understand.router.model import EXAMPLES_PATH, IntentModel, ModelConfig, load_examples, with_context_variants
from pipeline.understand.router.multilingual import MultilingualModel, make_encoder
from pipeline.understand.router.multilingual import cache_key as multilingual_cache_key
from pipeline.understand.router.plan import Plan, Step, make_plan

log = logging.getLogger(__name__)

MODEL_FORMAT = 1  # bump when the features change, so cached models are retrained
RULE_PRIOR = (9.0, 1.0)  # Beta prior on a rule's precision: an untested rule starts at 0.9


class Router:
    def __init__(self, settings=None, registry=None):
        self.settings = settings
        self.registry = registry
        self.backend = (getattr(settings, "router_backend", "auto") or "auto").lower()
        self.min_confidence = float(getattr(settings, "router_min_confidence", 0.5))
        allow_downloads = bool(getattr(settings, "allow_downloads", False))
        self.encoder = SentenceEncoder(getattr(settings, "router_embedding_model", ""), cache_dir=self._cache_dir(),
                                       allow_downloads=allow_downloads)
        self.multilingual_encoder = make_encoder(getattr(settings, "router_multilingual_model", ""),
                                                 self._cache_dir(), allow_downloads)
        self._languages = None  # LanguageIdentifier, fitted on first use (no embedding needed)
        self._multilingual: IntentModel | None = None
        self._multilingual_problem = ""
        self.keywords = KeywordClassifier()
        self._model: IntentModel | None = None
        self._model_source = ""
        self._problem = ""
        self._rule_confidence: dict[str, float] | None = None
        self._lock = threading.Lock()
        self.train_seconds: float | None = None

    # ---- lifecycle -------------------------------------------------------------------------------------
    def warm(self) -> None:
        """Train or load the intent model (and the embedding model it uses); called in the background."""
        self._ensure_model()
        if self._model is not None and self._model.config.use_embedding:
            self.encoder.encode_one("warm up")  # loads the embedding model when the trained model came from the cache
        self.language("warm up")
        multilingual = self._ensure_multilingual()
        if multilingual is not None and multilingual.config.use_embedding:
            self.multilingual_encoder.encode_one("calentar")

    def describe(self) -> dict:
        """For the capabilities panel: which classifier routes, how it was trained, what is missing."""
        path, reason = self.encoder.resolve()
        use_embedding = self.backend == "auto" and path is not None
        return {
            "name": "router",
            "backend": self.backend,
            "classifier": self._model_source or ("rules + words + MiniLM embedding" if use_embedding else
                                                 "rules + words" if self.backend in ("auto", "lexical") else "keywords"),
            "loaded": self._model is not None,
            "embedding_model": self.encoder.model_id if use_embedding else None,
            "embedding_runtime": self.encoder.runtime or None,
            "embedding_status": "ready" if path else "missing",
            "embedding_reason": reason,
            "problem": self._problem,
            "temperature": round(self._model.temperature, 3) if self._model else None,
            "train_seconds": round(self.train_seconds, 2) if self.train_seconds else None,
            "examples_file": str(EXAMPLES_PATH),
            "min_confidence": self.min_confidence,
            "languages": ["en", "es", "fr", "de", "pt", "it", "ja", "zh"] if self.backend != "keywords" else ["en"],
            "multilingual_model": self.multilingual_encoder.model_id if self.backend == "auto" else None,
            "multilingual_status": "ready" if self.multilingual_encoder.available() else "missing",
            "multilingual_reason": self.multilingual_encoder.resolve()[1],
            "multilingual_problem": self._multilingual_problem,
        }

    # ---- the classify step -------------------------------------------------------------------------------
    def route(self, text: str, context: ClassifyContext, forced_intent: str | None = None) -> Intent:
        if forced_intent:
            if forced_intent not in INTENTS:
                raise ValueError(f"unknown intent {forced_intent!r}")
            others = [(name, 0.0) for name in INTENTS if name != forced_intent]
            intent = Intent(name=forced_intent, confidence=1.0, candidates=[(forced_intent, 1.0), *others],
                            source="forced")
        else:
            intent = self.classify(text or "", context)
        intent.params = self.extract_params(text or "", intent.name)
        return intent

    def plan(self, text: str, context: ClassifyContext, forced_intent: str | None = None) -> Plan:
        """The ordered steps the message asks for (one step for a single request; see `plan.py`)."""
        if forced_intent:
            return Plan([Step(text or "", self.route(text, context, forced_intent=forced_intent))])
        return make_plan(text or "", context, self.route)

    def classify(self, text: str, context: ClassifyContext) -> Intent:
        if self.backend != "keywords":
            rule = rules.decide(text, context)
            if rule is not None:
                return self._rule_intent(rule, text, context)
        language = self.language(text)
        multilingual = self._ensure_multilingual() if language != "en" else None
        model = self._ensure_model() if multilingual is None else None
        if multilingual is not None:
            embedding = (self.multilingual_encoder.encode_one(text) if multilingual.config.use_embedding else None)
            ranked = multilingual.predict(text, context, embedding)
            intent = Intent(name=ranked[0][0], confidence=round(ranked[0][1], 4),
                            candidates=[(n, round(p, 4)) for n, p in ranked], source=f"multilingual:{language}")
        elif model is None:
            intent = self.keywords.classify(text, context)
            intent.candidates = _complete(intent.candidates)
        else:
            embedding = self.encoder.encode_one(text) if model.config.use_embedding else None
            ranked = model.predict(text, context, embedding)
            intent = Intent(name=ranked[0][0], confidence=round(ranked[0][1], 4),
                            candidates=[(n, round(p, 4)) for n, p in ranked], source=self._model_source)
        intent.ambiguous = intent.confidence < self.min_confidence
        return intent

    def language(self, text: str) -> str:
        """"en", or the other language the message is written in (see `multilingual.LanguageIdentifier`)."""
        if self.backend == "keywords" or not (text or "").strip():
            return "en"
        if self._languages is None:
            with self._lock:
                if self._languages is None:
                    try:
                        self._languages = MultilingualModel.language_identifier()
                    except ImportError as exc:
                        self._multilingual_problem = f"language identification is unavailable ({exc})"
                        return "en"
        return self._languages.detect(text)

    def extract_params(self, text: str, intent_name: str) -> dict:
        """Generic parameters, with the capability's own parser (when registered) merged over them. A message in
        another language is read followed by the English gloss of its parameter words (`gloss.py`)."""
        if self.language(text) != "en":
            glossed = gloss(text)
            text = f"{text} ({glossed})" if glossed else text
        params = extract_generic_params(text, intent_name)
        if self.registry is None:
            return _clean_target(params, text, intent_name)
        try:
            parse = self.registry.get(intent_name).parse_params
        except ValueError:
            return params
        if parse is not None:
            try:
                specific = parse(text) or {}
            except Exception:  # noqa: BLE001 - a parser bug must not lose the message; the log has it
                log.exception("the %s parameter parser failed on %r; using the generic parameters", intent_name, text)
                specific = {}
            params.update({k: v for k, v in specific.items() if v is not None})
        return _clean_target(params, text, intent_name)

    # ---- rules -------------------------------------------------------------------------------------------
    def _rule_intent(self, rule: rules.Rule, text: str, context: ClassifyContext) -> Intent:
        confidence = self.rule_confidence().get(rule.name, RULE_PRIOR[0] / sum(RULE_PRIOR))
        # The runner-ups of a rule decision come from the cue words: cheap, and they only order the chips.
        rest = [(n, p) for n, p in self.keywords.classify(text, context).candidates if n != rule.intent]
        rest_names = [n for n, _ in rest] + [n for n in INTENTS if n != rule.intent and n not in dict(rest)]
        share = (1.0 - confidence) / max(len(rest_names), 1)
        candidates = [(rule.intent, round(confidence, 4))] + [(n, round(share, 4)) for n in rest_names]
        return Intent(name=rule.intent, confidence=round(confidence, 4), candidates=candidates,
                      source=f"rule:{rule.name}")

    def rule_confidence(self) -> dict[str, float]:
        """Each rule's precision on the training phrases, smoothed by a Beta prior (calibrated confidence)."""
        if self._rule_confidence is None:
            hits: dict[str, list[int]] = {}
            for ex in with_context_variants(load_examples()):
                rule = rules.decide(ex.text, ex.context)
                if rule is not None:
                    tally = hits.setdefault(rule.name, [0, 0])
                    tally[0] += rule.intent == ex.intent
                    tally[1] += 1
            prior_hit, prior_miss = RULE_PRIOR
            self._rule_confidence = {name: (ok + prior_hit) / (n + prior_hit + prior_miss)
                                     for name, (ok, n) in hits.items()}
        return self._rule_confidence

    # ---- the learned model -------------------------------------------------------------------------------
    def _ensure_model(self) -> IntentModel | None:
        if self._model is not None or self.backend == "keywords" or self._problem:
            return self._model
        with self._lock:
            if self._model is None and not self._problem:
                try:
                    self._model = self._train_or_load()
                except ImportError as exc:  # scikit-learn/scipy missing: the cue-word classifier still routes
                    self._problem = f"the learned router needs scikit-learn and scipy ({exc}); using cue words"
                    log.warning(self._problem)
        return self._model

    def _ensure_multilingual(self) -> IntentModel | None:
        if self._multilingual is not None or self.backend == "keywords" or self._multilingual_problem:
            return self._multilingual
        with self._lock:
            if self._multilingual is None and not self._multilingual_problem:
                try:
                    self._multilingual = self._train_or_load_multilingual()
                except (ImportError, RuntimeError, OSError) as exc:  # the English router still answers
                    self._multilingual_problem = f"the multilingual router is unavailable ({exc}); using English"
                    log.warning(self._multilingual_problem)
        return self._multilingual

    def _train_or_load_multilingual(self) -> IntentModel:
        started = time.perf_counter()
        encoder = self.multilingual_encoder
        use_embedding = self.backend == "auto" and encoder.available()
        key = multilingual_cache_key(encoder) + ("-emb" if use_embedding else "-lex")
        path = self._cache_dir() / f"router-multilingual-{key}.pkl"
        model = _load_pickle(path)
        if model is None:
            embed = None
            if use_embedding:
                embed = (lambda texts: encoder.encode_cached(list(texts))) if hasattr(encoder, "encode_cached") \
                    else (lambda texts: encoder.encode(list(texts)))
            model = MultilingualModel.intent_model(use_embedding).fit(MultilingualModel.training_examples(), embed)
            _save_pickle(path, model)
        log.info("multilingual router model (%s) ready in %.1f s", "embedding" if use_embedding else "lexical",
                 time.perf_counter() - started)
        return model

    def _train_or_load(self) -> IntentModel:
        started = time.perf_counter()
        use_embedding = self.backend == "auto" and self.encoder.available()
        config = ModelConfig(use_embedding=use_embedding)
        self._model_source = "minilm+lexical" if use_embedding else "lexical"
        path = self._cache_dir() / f"router-model-{self._cache_key(config)}.pkl"
        model = _load_pickle(path)
        if model is None:
            embed = (lambda texts: self.encoder.encode_cached(list(texts))) if use_embedding else None
            model = IntentModel(config).fit(load_examples(), embed)
            _save_pickle(path, model)
        self.train_seconds = time.perf_counter() - started
        log.info("router model (%s) ready in %.1f s, temperature %.2f", self._model_source, self.train_seconds,
                 model.temperature)
        return model

    def _cache_dir(self) -> Path:
        configured = getattr(self.settings, "router_cache_dir", "")
        if configured:
            return Path(configured).expanduser()
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "ai-image-gateway" / "router"

    def _cache_key(self, config: ModelConfig) -> str:
        import sklearn

        digest = hashlib.sha256()
        digest.update(EXAMPLES_PATH.read_bytes())
        for part in (MODEL_FORMAT, repr(config), sklearn.__version__,
                     self.encoder.resolve()[0] if config.use_embedding else ""):
            digest.update(str(part).encode())
        for module in ("model", "features"):
            digest.update((Path(__file__).parent / f"{module}.py").read_bytes())
        return digest.hexdigest()[:20]


_TARGET_FILLER = re.compile(r"(?:\s+|^)(?:please|pls|plz|pleeease|thx|thanks|ty|now|asap|quick(?:ly)?|for me|"
                            r"if you can|too|as well|real quick)\s*$")
_PRONOUN_TARGETS = {"it", "him", "her", "them", "this", "that", "these", "those", "this one", "that one", "one",
                    "that thing", "this thing", "the thing", "he", "she", "they"}


_POINTS_BACK = re.compile(r"\b(?:remove|erase|delete|get rid of|lose|ditch|take out|wipe out|wipe|clear|eliminate|"
                          r"cut out|hide|drop|kill|zap|nuke)\s+(?:it|him|her|them|this|that|these|those|this one|"
                          r"that one|that thing|this thing)\b(?!\s+(?:background|bg|backdrop)\b)")


def _clean_target(params: dict, text: str = "", intent_name: str = "") -> dict:
    """"get rid of it pls" names no object: fillers come off a target, and a bare pronoun is no target (the
    pipeline resolves it from the conversation, or the capability asks)."""
    if intent_name == "object_removal" and "target" not in params and _POINTS_BACK.search(normalise(text)):
        params["target_pronoun"] = True
    target = params.get("target")
    if isinstance(target, str):
        for _ in range(3):
            target = _TARGET_FILLER.sub("", target).strip(" ,.!?")
        if not target or target in _PRONOUN_TARGETS:
            params.pop("target")
            params["target_pronoun"] = True
        else:
            params["target"] = target
    return params


def _complete(candidates: list[tuple[str, float]]) -> list[tuple[str, float]]:
    named = dict(candidates)
    return list(candidates) + [(n, 0.0) for n in INTENTS if n not in named]


def _load_pickle(path: Path) -> IntentModel | None:
    # Only files this router wrote itself, in its own cache folder, are read back.
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:
            model = pickle.load(handle)
        return model if isinstance(model, IntentModel) else None
    except Exception as exc:  # noqa: BLE001 - a stale or broken cache only costs a retraining
        log.warning("ignoring the cached router model %s: %s", path, exc)
        return None


def _save_pickle(path: Path, model: IntentModel) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # processes sharing the cache never collide
        with open(tmp, "wb") as handle:
            pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError as exc:
        log.warning("could not cache the router model in %s: %s", path.parent, exc)
