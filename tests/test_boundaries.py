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


# Modules that define torch layers and so import torch at their top: only ever imported inside a function
# (checked below), and left out of the "importing a package is light" test.
TORCH_ONLY = {"models.vision.yolo_seg_torch"}


def _all_modules(package: str) -> list[str]:
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if rel.name == "__main__" or "data" in rel.parts or ".".join(rel.parts) in TORCH_ONLY:
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


# ---- capability packages meet only through the registry or models/vision (read from the source, so an import
# inside a function counts as much as one at the top) ----------------------------------------------------------
def imported_names(path: Path, root: Path) -> set[str]:
    """Every module a Python file imports, anywhere in it (module top, functions, methods), absolute or relative."""
    import ast

    package = list(path.relative_to(root).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def cross_capability_imports(root: Path, capabilities: list[str]) -> list[str]:
    """`file -> module` for every import from one capability package (models/<name>/) into another."""
    found = []
    for name in capabilities:
        for path in sorted((root / "models" / name).rglob("*.py")):
            for module in sorted(imported_names(path, root)):
                parts = module.split(".")
                if len(parts) >= 2 and parts[0] == "models" and parts[1] in capabilities and parts[1] != name:
                    found.append(f"{path.relative_to(root)} -> {module}")
    return found


def _capability_packages() -> list[str]:
    from models.registry import CAPABILITY_MODULES

    return [m.split(".", 1)[1] for m in CAPABILITY_MODULES]


def test_no_capability_package_imports_another():
    assert cross_capability_imports(ROOT, _capability_packages()) == []


def test_the_capability_check_sees_an_import_inside_a_function(tmp_path):
    for name in ("upscale", "face_swap"):
        (tmp_path / "models" / name).mkdir(parents=True)
        (tmp_path / "models" / name / "__init__.py").write_text("")
    (tmp_path / "models" / "upscale" / "probe.py").write_text(
        "def run():\n    from models.face_swap import landmark_swap\n    return landmark_swap\n")
    (tmp_path / "models" / "face_swap" / "probe.py").write_text(
        "class A:\n    def f(self):\n        from ..upscale import tiling\n        import models.vision.segment\n")
    found = cross_capability_imports(tmp_path, ["upscale", "face_swap"])
    assert sorted(found) == ["models/face_swap/probe.py -> models.upscale",
                             "models/face_swap/probe.py -> models.upscale.tiling",
                             "models/upscale/probe.py -> models.face_swap",
                             "models/upscale/probe.py -> models.face_swap.landmark_swap"]


def test_ui_imports_nothing_from_models():
    """The composition root (app.py with pipeline/assemble.py) hands the UI what it needs."""
    found = [f"{path.relative_to(ROOT)} -> {module}" for path in sorted((ROOT / "ui").rglob("*.py"))
             for module in sorted(imported_names(path, ROOT)) if module.split(".")[0] == "models"]
    assert found == []


def test_torch_only_modules_are_imported_inside_functions_only():
    import ast

    at_top = []
    for path in sorted(ROOT.rglob("*.py")):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in tree.body:  # module level only
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
                     if isinstance(node, ast.ImportFrom) else [])
            at_top += [f"{path.relative_to(ROOT)} -> {n}" for n in names if n in TORCH_ONLY]
    assert at_top == []
