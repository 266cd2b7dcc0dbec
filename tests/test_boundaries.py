"""The dependency rule and lazy imports: pipeline/models never import gradio; nothing heavy at module top."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("gradio", "torch", "diffusers", "transformers", "onnxruntime", "rembg", "cv2", "insightface",
         "spandrel", "ncnn", "dlib", "sentence_transformers", "skimage")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return set(out.stdout.split())


def _all_modules(package: str) -> list[str]:
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if rel.name == "__main__" or "data" in rel.parts:
            continue
        names.append(".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts))
    return names


@pytest.mark.parametrize("package", ["core", "models", "pipeline"])
def test_packages_import_nothing_heavy(package):
    modules = _all_modules(package)
    code = "\n".join(f"import {m}" for m in modules)
    loaded = _modules_after(code)
    heavy = sorted(h for h in HEAVY if h in loaded)
    assert not heavy, f"importing {package} pulled in {heavy}"


def test_models_never_import_pipeline_or_ui():
    loaded = _modules_after("\n".join(f"import {m}" for m in _all_modules("models")))
    assert not {m for m in loaded if m.split(".")[0] in ("pipeline", "ui", "app")}


def test_building_the_registry_is_lazy(tmp_path):
    code = (f"from core.settings import Settings\nfrom models.cache import ModelCache\n"
            f"from models.registry import build_registry\n"
            f"r = build_registry(Settings.from_env({{}}, data_dir={str(tmp_path)!r}), ModelCache(1))\n"
            f"r.describe()")
    loaded = _modules_after(code)
    heavy = sorted(h for h in HEAVY if h in loaded)
    assert not heavy, f"building the registry and asking every status imported {heavy}"
