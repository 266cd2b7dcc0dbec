"""Which rembg model the neural backend uses and where its weights are, answered without importing rembg.

rembg (whose first import compiles pymatting for over a minute on a fresh machine) keeps each model as
`<home>/models/<name>/<name>.onnx`, still reading the older flat `~/.u2net/<name>.onnx`. This module mirrors
that rule so `status()` can look at the file system alone. The setting names a rembg model, a custom .onnx
file, or `auto`: the best model whose weights are present. The table records each model's weights licence
(not rembg's MIT code licence) and size, which feeds the capabilities listing and the model cache budget.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "GATEWAY_BACKGROUND_REMOVAL_MODEL"
DIR_ENV_VAR = "GATEWAY_BACKGROUND_REMOVAL_MODEL_DIR"


@dataclass(frozen=True)
class ModelInfo:
    licence: str
    megabytes: int  # size of the .onnx file; resident size is about 1.5x on CPU


MODELS = {
    "birefnet-general": ModelInfo("MIT (BiRefNet weights, ZhengPeng7/BiRefNet)", 973),
    "birefnet-general-lite": ModelInfo("MIT (BiRefNet weights, ZhengPeng7/BiRefNet)", 224),
    "birefnet-portrait": ModelInfo("MIT (BiRefNet weights, ZhengPeng7/BiRefNet)", 973),
    "birefnet-dis": ModelInfo("MIT (BiRefNet weights, ZhengPeng7/BiRefNet)", 973),
    "birefnet-hrsod": ModelInfo("MIT (BiRefNet weights, ZhengPeng7/BiRefNet)", 973),
    "birefnet-massive": ModelInfo("MIT (BiRefNet weights, ZhengPeng7/BiRefNet)", 973),
    "isnet-general-use": ModelInfo("Apache-2.0 (IS-Net / DIS weights, xuebinqin/DIS)", 179),
    "isnet-anime": ModelInfo("Apache-2.0 (SkyTNT anime-segmentation weights)", 176),
    "u2net": ModelInfo("Apache-2.0 (U2-Net weights, xuebinqin/U-2-Net)", 176),
    "u2netp": ModelInfo("Apache-2.0 (U2-Net weights, xuebinqin/U-2-Net)", 5),
    "u2net_human_seg": ModelInfo("Apache-2.0 (U2-Net weights, xuebinqin/U-2-Net)", 176),
    "silueta": ModelInfo("Apache-2.0 (U2-Net derivative, silueta)", 43),
    "bria-rmbg": ModelInfo("CC BY-NC 4.0: non-commercial use only (BRIA RMBG-2.0 weights)", 977),
}
# `auto` takes the first of these whose weights are present: quality first (BiRefNet, then IS-Net, then U2-Net).
AUTO_ORDER = ("birefnet-general", "isnet-general-use", "birefnet-general-lite", "birefnet-portrait",
              "u2net", "u2net_human_seg", "silueta", "u2netp")
AUTO_DOWNLOAD = {"gpu": "birefnet-general", "cpu": "isnet-general-use"}
CUSTOM_SESSIONS = ("u2net_custom", "dis_custom")


@dataclass(frozen=True)
class ModelChoice:
    session: str  # rembg session name ("u2net", "u2net_custom"…)
    path: Path | None  # the weights file when present (or the custom file as configured)
    present: bool
    custom: bool = False

    @property
    def model_id(self) -> str:
        return f"rembg/{self.session}:{self.path.name}" if self.custom and self.path else f"rembg/{self.session}"

    @property
    def licence(self) -> str:
        if self.custom:
            return "custom weights: see their own licence"
        info = MODELS.get(self.session)
        return info.licence if info else "see the model's page in rembg's README"

    @property
    def estimated_bytes(self) -> int:
        if self.custom and self.path and self.path.exists():
            return int(self.path.stat().st_size * 1.5)
        info = MODELS.get(self.session)
        return int((info.megabytes if info else 200) * 1.5 * 2**20)


def homes(model_dir: str) -> list[Path]:
    """Folders searched for `<name>.onnx`, in rembg's order; the first is where downloads go."""
    if model_dir:
        return [Path(model_dir).expanduser()]
    legacy = Path(os.getenv("U2NET_HOME") or os.path.join(os.getenv("XDG_DATA_HOME", "~"), ".u2net")).expanduser()
    if os.getenv("U2NET_HOME"):
        return [legacy]
    xdg = os.getenv("XDG_DATA_HOME")
    home = Path(os.getenv("REMBG_HOME") or (os.path.join(xdg, "rembg") if xdg else "~/.rembg")).expanduser()
    return [home, legacy]


def find_weights(session: str, model_dir: str) -> Path | None:
    for home in homes(model_dir):
        for candidate in (home / "models" / session / f"{session}.onnx", home / f"{session}.onnx"):
            if candidate.is_file():
                return candidate
    return None


def choose_model(setting: str, model_dir: str) -> ModelChoice | None:
    """The configured model and whether its weights are here; None when the setting is empty (backend off)."""
    setting = (setting or "").strip()
    if not setting:
        return None
    session, _, rest = setting.partition(":")
    if session in CUSTOM_SESSIONS and rest:
        path = Path(rest).expanduser()
        return ModelChoice(session, path, path.is_file(), custom=True)
    if setting.endswith(".onnx") or "/" in setting or os.sep in setting:
        path = Path(setting).expanduser()
        return ModelChoice("u2net_custom", path, path.is_file(), custom=True)
    if setting == "auto":
        for name in AUTO_ORDER:
            path = find_weights(name, model_dir)
            if path is not None:
                return ModelChoice(name, path, True)
        return ModelChoice("auto", None, False)
    path = find_weights(setting, model_dir)
    return ModelChoice(setting, path, path is not None)


def download_target(choice: ModelChoice, device: str) -> str:
    """The rembg model `python -m models.download` fetches for this choice on this device."""
    if choice.session != "auto":
        return choice.session
    return AUTO_DOWNLOAD["gpu" if device.startswith("cuda") else "cpu"]
