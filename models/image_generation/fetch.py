"""Which text-to-image files to download, and downloading them through `models.hub` (never in tests' default path).

`pipeline_spec` names the files of a diffusers pipeline: for presets whose layout was checked on the Hub the
list is known offline (the same list the README's `preload_from_hub` carries); for any other repository it is
picked from the repository's listing with `pipeline_files` — per component its configs and one weights set
(the fp16 variant on a GPU when the repo has it), never the single-file checkpoints or ONNX copies beside them.
`single_model_spec` does the same for a one-model repository (TAESD, the safety checker). `models.hub.fetch`
then downloads with one download per model, a free-disk check and progress in the chat reply.
"""

from __future__ import annotations

import json
from pathlib import Path

from models import hub
from models.image_generation import model_source as ms
from models.weights import folder_files

SAFETY_CHECKER_REPO = ms.DEFAULT_SAFETY_CHECKER


def known_pipeline_spec(ref: ms.ModelRef, variant: str | None) -> hub.HubFiles | None:
    """The preset's files, known without asking the Hub (None for other models)."""
    preset = ref.preset
    files = ms.preset_files(preset, variant) if preset is not None and not ref.is_local else None
    return hub.HubFiles(ref.repo_id, files, ref.revision) if files else None


def known_single_model_spec(ref: ms.ModelRef) -> hub.HubFiles | None:
    if not ref.is_local and ref.repo_id.lower() == SAFETY_CHECKER_REPO.lower():
        return hub.HubFiles(ref.repo_id, ms.SAFETY_CHECKER_FILES, ref.revision)
    return None


def pipeline_spec(ref: ms.ModelRef, variant: str | None) -> hub.HubFiles:
    known = known_pipeline_spec(ref, variant)
    if known is not None:
        return known
    from huggingface_hub import HfApi, hf_hub_download

    listing = [s.rfilename for s in HfApi().model_info(ref.repo_id, revision=ref.revision).siblings or []]
    index = json.loads(Path(hf_hub_download(ref.repo_id, "model_index.json", revision=ref.revision)).read_text())
    if variant and not any(f".{variant}." in name for name in listing):
        variant = None  # the repository has no such variant: take its plain weights
    files = ms.pipeline_files(listing, index, variant)
    if "README.md" in listing:
        files += ("README.md",)  # the model card: where the licence of an unknown model is read from
    return hub.HubFiles(ref.repo_id, files, ref.revision)


def single_model_spec(ref: ms.ModelRef, *, processor: bool = False) -> hub.HubFiles:
    known = known_single_model_spec(ref)
    if known is not None:
        return known
    from huggingface_hub import HfApi

    listing = [s.rfilename for s in HfApi().model_info(ref.repo_id, revision=ref.revision).siblings or []]
    files = [f for f in folder_files(listing) if processor or f != "preprocessor_config.json"]
    return hub.HubFiles(ref.repo_id, tuple(files), ref.revision)


def fetch_pipeline(ref: ms.ModelRef, variant: str | None) -> str:
    spec = pipeline_spec(ref, variant)
    path = hub.fetch(spec)
    return f"{ref.text}{f' ({variant})' if variant else ''}: {len(spec.files)} files → {path}"


def fetch_single_model(ref: ms.ModelRef, *, processor: bool = False) -> str:
    spec = single_model_spec(ref, processor=processor)
    return f"{ref.text}: {len(spec.files)} files → {hub.fetch(spec)}"
