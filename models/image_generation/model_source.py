"""Which text-to-image weights to use and whether they are on disk — answered without importing torch.

A model reference (setting `GATEWAY_T2I_MODEL`) is a Hugging Face hub id, optionally `id@revision`, or a local
diffusers folder (one with `model_index.json`). Empty means the device default: a fast distilled SDXL model on a
GPU and a 1-step distilled SD model with the TAESD decoder on CPU. `folder_problems` checks that a diffusers
folder (local, or a snapshot in the huggingface_hub cache) holds every component's config and weights, so a
half-finished download is reported as missing instead of failing deep inside `from_pretrained`. Presets carry
per-model defaults (steps, guidance), the licence of the weights as their model card states it, and — for the
repositories whose file lists were read off their Hub pages — exactly the files a download (and the README's
`preload_from_hub`) fetches; `pipeline_files` makes the same choice for any other repository from its listing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

GPU_DEFAULT_MODEL = "stabilityai/sdxl-turbo"
CPU_DEFAULT_MODEL = "stabilityai/sd-turbo"
DEFAULT_SAFETY_CHECKER = "CompVis/stable-diffusion-safety-checker"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# Licence labels quote the model cards (their YAML `license`/`license_name` and the card's own words).
_SDXL_TURBO_LICENCE = ("sai-nc-community — Stability AI Non-Commercial Research Community License (weights, per the "
                       "model card): non-commercial use only; the card: \u201cFor commercial use, please refer to "
                       "https://stability.ai/license\u201d")
_SD_TURBO_LICENCE = ("Stability AI licence (weights; the model card: \u201cFor commercial use, please refer to "
                     "https://stability.ai/license\u201d)")
_SSD_1B_LICENCE = "apache-2.0 (weights, per the segmind/SSD-1B model card): commercial use allowed"


@dataclass(frozen=True)
class Preset:
    steps: int
    guidance: float
    licence: str
    tiny_vae: str = ""  # the matching TAESD decoder on the hub
    fp16_variant: bool = False  # the repo ships *.fp16.safetensors (half the download on a GPU)
    approx_bytes: int = 0  # resident size in half precision
    layout: str = ""  # "sdxl" / "sd" when the repo's diffusers files were checked on the Hub: exact file lists
    commercial: bool = False  # the weights' licence allows commercial use


PRESETS = {
    "stabilityai/sd-turbo": Preset(1, 0.0, _SD_TURBO_LICENCE, "madebyollin/taesd", True, 2_600_000_000),
    "stabilityai/sdxl-turbo": Preset(1, 0.0, _SDXL_TURBO_LICENCE, "madebyollin/taesdxl", True, 7_000_000_000,
                                     layout="sdxl"),
    # The commercially usable preset beside SDXL-Turbo: a distilled SDXL (half the UNet), ~4.5 GB in fp16.
    "segmind/ssd-1b": Preset(20, 7.0, _SSD_1B_LICENCE, "madebyollin/taesdxl", True, 4_500_000_000, layout="sdxl",
                             commercial=True),
    "black-forest-labs/flux.1-schnell": Preset(4, 0.0, "apache-2.0 (weights, per the model card)", "madebyollin/taef1",
                                               False, 33_000_000_000, commercial=True),
    "stabilityai/stable-diffusion-xl-base-1.0": Preset(30, 6.0, "openrail++ — CreativeML Open RAIL++-M (weights, per the "
                                                       "model card): commercial use allowed under its use restrictions",
                                                       "madebyollin/taesdxl", True, 7_000_000_000, commercial=True),
    "stable-diffusion-v1-5/stable-diffusion-v1-5": Preset(25, 7.0, "creativeml-openrail-m (weights, per the model card)",
                                                          "madebyollin/taesd", True, 2_200_000_000, commercial=True),
}
COMMERCIAL_PRESET = "segmind/SSD-1B"
SAFETY_CHECKER_FILES = ("config.json", "preprocessor_config.json", "model.safetensors")  # CompVis/…-safety-checker
_TOKENIZER_FILES = ("merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json")
_LAYOUT_COMPONENTS = {
    "sd": ("scheduler", "text_encoder", "tokenizer", "unet", "vae"),
    "sdxl": ("scheduler", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "unet", "vae"),
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


def preset_files(preset: Preset, variant: str | None) -> tuple[str, ...] | None:
    """The diffusers files of a preset whose layout was checked on the Hub (None when it was not)."""
    components = _LAYOUT_COMPONENTS.get(preset.layout)
    if components is None:
        return None
    infix = f".{variant}" if variant else ""
    files = ["model_index.json"]
    for name in components:
        if name == "scheduler":
            files.append("scheduler/scheduler_config.json")
        elif name.startswith("tokenizer"):
            files += [f"{name}/{f}" for f in _TOKENIZER_FILES]
        elif name.startswith("text_encoder"):
            files += [f"{name}/config.json", f"{name}/model{infix}.safetensors"]
        else:
            files += [f"{name}/config.json", f"{name}/diffusion_pytorch_model{infix}.safetensors"]
    return tuple(files)


def pipeline_files(listing: list[str], model_index: dict, variant: str | None) -> tuple[str, ...]:
    """The files `from_pretrained(variant=…)` reads, picked from a repository's file listing: per component its
    configs/tokenizer files and one weights set (the variant's safetensors, else plain safetensors, else .bin) —
    never the single-file checkpoints, ONNX exports or other precisions beside them."""
    files = ["model_index.json"]
    for name, spec in model_index.items():
        if name.startswith("_") or not isinstance(spec, list) or len(spec) != 2 or spec[0] is None:
            continue
        inside = [f for f in listing if f.startswith(name + "/") and f.count("/") == 1]
        files += [f for f in inside if f.endswith((".json", ".txt", ".model")) and ".index.json" not in f]
        files += _weights_choice(inside, variant)
    return tuple(files)


def _weights_choice(inside: list[str], variant: str | None) -> list[str]:
    def is_variant(name: str, v: str) -> bool:
        return f".{v}." in name or f".{v}-" in name

    weights = [f for f in inside if f.endswith(_WEIGHT_SUFFIXES) or f.endswith(tuple(s + ".index.json" for s in _WEIGHT_SUFFIXES))]
    plain = [f for f in weights if not re.search(r"\.(fp16|bf16|fp32|non_ema|ema)[.-]", f)]
    groups = ([[f for f in weights if is_variant(f, variant)]] if variant else []) + [plain]
    for group in groups:
        for suffix in (".safetensors", ".bin"):
            chosen = [f for f in group if suffix in f]
            if chosen:
                return chosen
    return []


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
    from core.platform import hub_offline

    return hub_offline()


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
