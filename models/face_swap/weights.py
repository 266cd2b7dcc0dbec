"""Where the opt-in face-swap weights come from: a local path, a Hugging Face file, or an InsightFace pack name.

A weight setting is either an existing local path, or `owner/repo/path/in/repo.ext` (optionally `@revision`)
naming one file on the Hugging Face Hub, found in the local huggingface_hub cache without any network call
(`try_to_load_from_cache`) and fetched only by `fetch()` (`python -m models.download`). An InsightFace
pack setting is a local folder of `.onnx` files or a pack name under `<root>/models/` (e.g. `buffalo_l`),
which InsightFace's own downloader fetches. Nothing here downloads unless `fetch*` is called.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.contracts import DOWNLOADABLE, MISSING, READY


@dataclass(frozen=True)
class WeightFile:
    raw: str
    local: Path | None = None  # the file on disk, when it is there (local path or cached hub file)
    repo_id: str | None = None
    filename: str | None = None
    revision: str | None = None

    @property
    def state(self) -> str:
        if self.local is not None:
            return READY
        return DOWNLOADABLE if self.repo_id else MISSING

    @property
    def where(self) -> str:
        return f"{self.repo_id}/{self.filename}" if self.repo_id else self.raw


def resolve_file(raw: str) -> WeightFile:
    raw = (raw or "").strip()
    if not raw:
        return WeightFile(raw)
    path = Path(raw).expanduser()
    if path.is_file():
        return WeightFile(raw, local=path.resolve())
    spec, _, revision = raw.partition("@")
    parts = spec.split("/")
    looks_local = raw.startswith(("/", ".", "~")) or "\\" in raw or len(parts) < 3
    if looks_local:
        return WeightFile(raw)
    repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:])
    cached = _hub_cached(repo_id, filename, revision or None)
    return WeightFile(raw, local=cached, repo_id=repo_id, filename=filename, revision=revision or None)


def _hub_cached(repo_id: str, filename: str, revision: str | None) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, revision=revision)
    return Path(found) if isinstance(found, str) else None


def fetch_file(weight: WeightFile) -> Path:
    """Download a hub file into the huggingface_hub cache (explicit download command only)."""
    if weight.local is not None:
        return weight.local
    if not weight.repo_id:
        raise FileNotFoundError(f"{weight.raw!r} is neither an existing file nor an owner/repo/file on the Hub")
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(weight.repo_id, weight.filename, revision=weight.revision))


@dataclass(frozen=True)
class InsightFacePack:
    raw: str
    folder: Path | None  # a folder holding the pack's .onnx files, when present
    name: str | None  # a pack name InsightFace can download into `root`
    root: Path

    @property
    def state(self) -> str:
        if self.folder is not None:
            return READY
        return DOWNLOADABLE if self.name else MISSING


def resolve_pack(raw: str, root: str = "~/.insightface") -> InsightFacePack:
    raw = (raw or "").strip()
    root_path = Path(root).expanduser()
    if not raw:
        return InsightFacePack(raw, None, None, root_path)
    direct = Path(raw).expanduser()
    if direct.is_dir():
        return InsightFacePack(raw, direct.resolve() if any(direct.glob("*.onnx")) else None, None, root_path)
    if "/" in raw or "\\" in raw:
        return InsightFacePack(raw, None, None, root_path)
    named = root_path / "models" / raw
    return InsightFacePack(raw, named if any(named.glob("*.onnx")) else None, raw, root_path)


def fetch_pack(pack: InsightFacePack) -> Path:
    if pack.folder is not None:
        return pack.folder
    if not pack.name:
        raise FileNotFoundError(f"InsightFace pack {pack.raw!r} is not a folder with .onnx files")
    from insightface.utils.storage import ensure_available

    return Path(ensure_available("models", pack.name, root=str(pack.root)))
