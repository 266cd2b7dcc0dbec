"""Where a backend's weights come from: a local file/folder or a file/repo in the Hugging Face Hub cache.

A weight setting is either a local path or `<owner>/<repo>/<file inside the repo>[@revision]` (for a single
weights file) or `<owner>/<repo>[@revision]` (for a whole model folder). `status()` answers from the file
system only (`try_to_load_from_cache`), so it never touches the network and never imports torch;
`fetch()` downloads into the huggingface_hub cache only when asked to (`python -m models.download` or
`GATEWAY_ALLOW_DOWNLOADS=1`). Shared by the upscale and object_removal packages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from models import hub
from models.contracts import DOWNLOADABLE, MISSING, READY, BackendStatus

FOLDER_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# Model folders whose file lists were read off their Hub pages: the exact files `from_pretrained` reads
# (CLIPSeg's main branch has only the pickle weights; the processor needs the tokenizer files).
KNOWN_FOLDERS = {
    "CIDAS/clipseg-rd64-refined": ("config.json", "preprocessor_config.json", "pytorch_model.bin", "merges.txt",
                                   "vocab.json", "special_tokens_map.json", "tokenizer_config.json"),
}
_CONFIG_SUFFIXES = (".json", ".txt", ".model")
_WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class WeightSource:
    spec: str  # the setting as written
    env_var: str  # the setting's environment variable, for messages
    local_path: Path | None = None
    repo_id: str | None = None
    filename: str | None = None  # the file inside a hub repository (None: the whole repository)
    revision: str | None = None
    folder: bool = False  # a model folder (config.json + weights) rather than one weights file

    @property
    def is_hub(self) -> bool:
        return self.repo_id is not None

    @property
    def label(self) -> str:
        """Short model id for recipes and messages."""
        if self.is_hub:
            return f"{self.repo_id}/{self.filename}" if self.filename else self.repo_id
        return self.local_path.name if self.local_path else ""


def parse_weight_source(spec: str, env_var: str, *, single_file: bool) -> WeightSource | None:
    """None for an empty setting. Anything that exists locally, or looks like a path, is a local path."""
    spec = (spec or "").strip()
    if not spec:
        return None
    path = Path(spec).expanduser()
    looks_local = (spec.startswith(("/", "./", "../", "~")) or path.exists() or "\\" in spec
                   or re.match(r"^[A-Za-z]:[\\/]", spec) is not None)
    parts = spec.split("/")
    folder = not single_file
    if looks_local or len(parts) < 2 or (single_file and len(parts) < 3):
        return WeightSource(spec, env_var, local_path=path, folder=folder)
    revision = None
    if "@" in parts[-1]:
        parts[-1], revision = parts[-1].rsplit("@", 1)
    if single_file:
        return WeightSource(spec, env_var, repo_id="/".join(parts[:2]), filename="/".join(parts[2:]),
                            revision=revision)
    return WeightSource(spec, env_var, repo_id="/".join(parts[:2]), revision=revision, folder=True)


def locate(source: WeightSource) -> Path | None:
    """The local file/folder of the weights when present (local path or complete hub cache entry), else None."""
    if not source.is_hub:
        path = source.local_path
        if source.folder:
            return path if (path / "config.json").is_file() else None
        return path if path.is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    if source.filename:
        found = try_to_load_from_cache(source.repo_id, source.filename, revision=source.revision)
        return Path(found) if isinstance(found, str) else None
    known = known_hub_files(source)
    if known is not None:
        return hub.local_snapshot(known)
    config = try_to_load_from_cache(source.repo_id, "config.json", revision=source.revision)
    weights = [try_to_load_from_cache(source.repo_id, name, revision=source.revision) for name in FOLDER_WEIGHT_FILES]
    if isinstance(config, str) and any(isinstance(w, str) for w in weights):
        return Path(config).parent
    return None


def weight_status(source: WeightSource | None, *, env_var: str, what: str, capability: str) -> BackendStatus:
    """READY when present, DOWNLOADABLE when it is a hub file not fetched yet, MISSING otherwise."""
    if source is None:
        return BackendStatus(MISSING, f"no {what} configured",
                             f"set {env_var} to a local weights path or a Hugging Face hub file")
    if locate(source) is not None:
        return BackendStatus(READY)
    if source.is_hub:
        return BackendStatus(DOWNLOADABLE, f"{what} {source.label} is not downloaded yet",
                             f"python -m models.download {capability} (downloads on first use when the Hub is "
                             "reachable and GATEWAY_ALLOW_DOWNLOADS is on)")
    kind = "folder (with config.json)" if source.folder else "file"
    return BackendStatus(MISSING, f"{what} {kind} {source.local_path} does not exist",
                         f"put the weights at {source.local_path} or change {source.env_var}")


def known_hub_files(source: WeightSource) -> hub.HubFiles | None:
    """The exact Hub files of `source` when they are known without asking the Hub (a file, or a known folder)."""
    if not source.is_hub:
        return None
    if source.filename:
        return hub.HubFiles(source.repo_id, (source.filename,), source.revision)
    files = KNOWN_FOLDERS.get(source.repo_id)
    return hub.HubFiles(source.repo_id, files, source.revision) if files else None


def folder_files(listing: list[str]) -> tuple[str, ...]:
    """A transformers model folder's files: top-level configs/tokenizer files and one weights format."""
    top = [f for f in listing if "/" not in f]
    configs = [f for f in top if f.endswith(_CONFIG_SUFFIXES) and not f.endswith(".index.json")]
    for suffix in _WEIGHT_SUFFIXES:  # safetensors when the repo has them, else the pickle weights
        weights = [f for f in top if f.endswith(suffix) or f.endswith(suffix + ".index.json")]
        if weights:
            return tuple(configs + weights)
    return tuple(configs)


def hub_files(source: WeightSource) -> hub.HubFiles:
    """The files to download for `source` (asks the Hub for the file list of an unknown folder)."""
    known = known_hub_files(source)
    if known is not None:
        return known
    from huggingface_hub import HfApi

    listing = [s.rfilename for s in HfApi().model_info(source.repo_id, revision=source.revision).siblings or []]
    return hub.HubFiles(source.repo_id, folder_files(listing), source.revision)


def fetch(source: WeightSource, *, allow_download: bool) -> Path:
    """Local path of the weights, downloading them into the huggingface_hub cache when allowed."""
    found = locate(source)
    if found is not None:
        return found
    if not source.is_hub:
        raise FileNotFoundError(f"{source.local_path} does not exist ({source.env_var})")
    if not allow_download:
        raise FileNotFoundError(f"{source.label} is not in the Hugging Face cache; run `python -m models.download`")
    folder = hub.fetch(hub_files(source))
    return folder / source.filename if source.filename else folder
