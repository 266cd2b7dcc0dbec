"""Which text-to-image weights to use and whether they are on disk — answered without importing torch.

A model reference (setting `GATEWAY_T2I_MODEL`) is a Hugging Face hub id, optionally `id@revision`, or a local
diffusers folder (one with `model_index.json`). Empty means the device default: a fast distilled SDXL model on a
GPU and a 1-step distilled SD model with the TAESD decoder on CPU. `folder_problems` checks that a diffusers
folder (local, or a snapshot in the huggingface_hub cache) holds every component's config and weights, so a
half-finished download is reported as missing instead of failing deep inside `from_pretrained`. Presets carry
per-model defaults (steps, guidance) and the licence of the weights.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

GPU_DEFAULT_MODEL = "stabilityai/sdxl-turbo"
CPU_DEFAULT_MODEL = "stabilityai/sd-turbo"
DEFAULT_SAFETY_CHECKER = "CompVis/stable-diffusion-safety-checker"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_STABILITY_COMMUNITY = ("Stability AI Community License (weights): free for research and for organisations under "
                        "US$1M annual revenue; see the model card")


@dataclass(frozen=True)
class Preset:
    steps: int
    guidance: float
    licence: str
    tiny_vae: str = ""  # the matching TAESD decoder on the hub
    fp16_variant: bool = False  # the repo ships *.fp16.safetensors (half the download on a GPU)
    approx_bytes: int = 0  # resident size in half precision


PRESETS = {
    "stabilityai/sd-turbo": Preset(1, 0.0, _STABILITY_COMMUNITY, "madebyollin/taesd", True, 2_600_000_000),
    "stabilityai/sdxl-turbo": Preset(1, 0.0, _STABILITY_COMMUNITY, "madebyollin/taesdxl", True, 7_000_000_000),
    "black-forest-labs/flux.1-schnell": Preset(4, 0.0, "Apache-2.0 (weights)", "madebyollin/taef1", False, 33_000_000_000),
    "stabilityai/stable-diffusion-xl-base-1.0": Preset(30, 6.0, "CreativeML Open RAIL++-M (weights)", "madebyollin/taesdxl",
                                                       True, 7_000_000_000),
    "stable-diffusion-v1-5/stable-diffusion-v1-5": Preset(25, 7.0, "CreativeML Open RAIL-M (weights)", "madebyollin/taesd",
                                                          True, 2_200_000_000),
}
TINY_VAE_LICENCE = "MIT (TAESD weights)"
_FEW_STEP_NAMES = re.compile(r"turbo|lightning|lcm|schnell|hyper|distill", re.I)
_CONFIG_ONLY = re.compile(r"Tokenizer|Scheduler|ImageProcessor|FeatureExtractor|Processor$")
_WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class ModelRef:
    """A parsed model reference: exactly one of `repo_id` / `local_path` is set."""
    text: str
    repo_id: str | None = None
    revision: str | None = None
    local_path: Path | None = None

    @property
    def is_local(self) -> bool:
        return self.local_path is not None

    @property
    def target(self) -> str:
        """What `from_pretrained` is given."""
        return str(self.local_path) if self.local_path is not None else str(self.repo_id)

    @property
    def display_name(self) -> str:
        return self.local_path.name if self.local_path is not None else str(self.repo_id)

    @property
    def preset(self) -> Preset | None:
        return PRESETS.get((self.repo_id or "").lower())


def parse_model_ref(text: str) -> ModelRef:
    text = text.strip()
    path = Path(text).expanduser()
    if path.exists() or text.startswith(("/", ".", "~")) or not _HUB_ID.match(text.split("@", 1)[0]):
        return ModelRef(text=text, local_path=path.resolve() if path.exists() else path)
    repo_id, _, revision = text.partition("@")
    return ModelRef(text=text, repo_id=repo_id, revision=revision or None)


def likely_device(setting: str) -> str:
    """The device `models.devices.resolve_device` will pick, guessed without importing torch when possible."""
    if setting and setting != "auto":
        return setting
    import sys

    if "torch" in sys.modules:
        from models.devices import resolve_device

        return resolve_device(setting)
    return "cuda" if Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidia0").exists() else "cpu"


def default_model(device: str) -> str:
    return CPU_DEFAULT_MODEL if device == "cpu" else GPU_DEFAULT_MODEL


def tiny_vae_ref(setting: str, model: ModelRef, using_default_model: bool, device: str) -> ModelRef | None:
    """The TAESD decoder to use: 'auto' = with the CPU default model only; 'off'/'' = none; else a ref."""
    setting = (setting or "").strip()
    if setting.lower() in ("", "off", "none", "false", "0"):
        return None
    if setting.lower() == "auto":
        if using_default_model and device == "cpu" and model.preset and model.preset.tiny_vae:
            return parse_model_ref(model.preset.tiny_vae)
        return None
    return parse_model_ref(setting)


def is_hub_offline() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().lower() in {"1", "true", "yes", "on"}


def cached_folder(ref: ModelRef, marker: str) -> Path | None:
    """The folder holding `ref`'s files: the local folder, or its snapshot in the huggingface_hub cache."""
    if ref.local_path is not None:
        return ref.local_path if ref.local_path.is_dir() else None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(ref.repo_id, marker, revision=ref.revision)
    return Path(found).parent if isinstance(found, str) else None


def pipeline_problems(folder: Path, *, skip=("safety_checker",)) -> list[str]:
    """What is missing from a diffusers pipeline folder (empty list = complete)."""
    index_file = folder / "model_index.json"
    if not index_file.is_file():
        return [f"{folder} has no model_index.json (not a diffusers pipeline folder)"]
    try:
        index = json.loads(index_file.read_text())
    except (OSError, ValueError) as exc:
        return [f"{index_file} is unreadable: {exc}"]
    problems = []
    for name, spec in index.items():
        if name.startswith("_") or name in skip or not isinstance(spec, list) or len(spec) != 2 or spec[0] is None:
            continue
        problems += component_problems(folder / name, needs_weights=not _CONFIG_ONLY.search(str(spec[1])))
    return problems


def component_problems(folder: Path, *, needs_weights: bool = True) -> list[str]:
    if not folder.is_dir() or not any(folder.iterdir()):
        return [f"{folder.name}/ is missing"]
    if not needs_weights:
        return []
    files = {p.name for p in folder.iterdir()}
    if not any(name.endswith(_WEIGHT_SUFFIXES) for name in files):
        return [f"{folder.name}/ has no weights file"]
    for index_name in (n for n in files if n.endswith(".index.json")):
        try:
            shards = set(json.loads((folder / index_name).read_text()).get("weight_map", {}).values())
        except (OSError, ValueError):
            return [f"{folder.name}/{index_name} is unreadable"]
        if any(not (folder / shard).exists() for shard in shards):
            return [f"{folder.name}/ is missing weight shards listed in {index_name}"]
    return []


def has_variant(folder: Path, variant: str) -> bool:
    return any(p.name.endswith(f".{variant}.safetensors") for p in folder.glob("*/*.safetensors"))


def pipeline_class_name(folder: Path | None) -> str:
    try:
        return json.loads((folder / "model_index.json").read_text()).get("_class_name", "") if folder else ""
    except (OSError, ValueError):
        return ""


def weights_bytes(folder: Path | None) -> int:
    if folder is None:
        return 0
    total = 0
    for path in folder.glob("*/*"):
        if path.name.endswith(_WEIGHT_SUFFIXES):
            try:
                total += path.stat().st_size
            except OSError:
                pass
    return total


def folder_licence(folder: Path | None) -> str:
    """The `license:` field of a model card's YAML header (README.md), if the folder has one."""
    if folder is None:
        return ""
    readme = folder / "README.md"
    try:
        text = readme.read_text(errors="replace")[:4000]
    except OSError:
        return ""
    header = re.match(r"---\s*\n(.*?)\n---", text, re.S)
    if not header:
        return ""
    fields = dict(re.findall(r"^(license(?:_name)?):\s*(.+?)\s*$", header.group(1), re.M))
    return fields.get("license_name") or fields.get("license", "")


def model_defaults(ref: ModelRef, pipeline_class: str) -> tuple[int, float]:
    """(steps, guidance) for a model: its preset, else by family and by few-step distillation in the name."""
    if ref.preset is not None:
        return ref.preset.steps, ref.preset.guidance
    if _FEW_STEP_NAMES.search(ref.text):
        return (4, 0.0) if "Flux" in pipeline_class else (2, 0.0)
    if "Flux" in pipeline_class:
        return 28, 3.5
    if "XL" in pipeline_class:
        return 30, 6.0
    return 25, 7.0
