"""Downloading text-to-image weights into the huggingface_hub cache (only on explicit request, never in tests).

`fetch_pipeline` uses diffusers' own `DiffusionPipeline.download`, which picks exactly the files
`from_pretrained` will read (safetensors over .bin, the fp16 variant when asked, no stray single-file
checkpoints), and adds the model card for the licence. `fetch_single_model` fetches a one-model repository
(TAESD, the safety checker): its configs, its safetensors weights (or .bin when it has none) and the card.
"""

from __future__ import annotations

from models.image_generation.model_source import ModelRef


def fetch_pipeline(ref: ModelRef, variant: str | None) -> str:
    from diffusers import DiffusionPipeline

    path = DiffusionPipeline.download(ref.repo_id, revision=ref.revision, variant=variant)
    _fetch_card(ref)
    return f"{ref.text}{f' ({variant})' if variant else ''} → {path}"


def fetch_single_model(ref: ModelRef, *, processor: bool = False) -> str:
    from huggingface_hub import list_repo_files, snapshot_download

    files = list_repo_files(ref.repo_id, revision=ref.revision)
    weights = ["*.safetensors"] if any(f.endswith(".safetensors") for f in files) else ["*.bin"]
    patterns = ["config.json", "README.md", *weights] + (["preprocessor_config.json"] if processor else [])
    # Top-level files only: some repos keep alternative formats in sub-folders.
    path = snapshot_download(ref.repo_id, revision=ref.revision, allow_patterns=patterns)
    return f"{ref.text} → {path}"


def _fetch_card(ref: ModelRef) -> None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        hf_hub_download(ref.repo_id, "README.md", revision=ref.revision)
    except EntryNotFoundError:
        pass  # a repository without a model card: the licence is then reported as not stated
