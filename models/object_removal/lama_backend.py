"""LaMa (big-lama, large-mask inpainting with Fourier convolutions) loaded through spandrel.

Weights come from `object_removal_model`: a local file (.ckpt from the LaMa release, a TorchScript .pt, or
.safetensors) or a Hub file fetched on first use (or by `python -m models.download object_removal`). The
default, `lllyasviel/Annotators/lama.ckpt`, is byte-identical to the authors' big-lama.ckpt (SHA-256
fccb7adffd53…, Apache-2.0 like the advimman/lama release): a PyTorch Lightning checkpoint whose pickle also
names Lightning/OmegaConf classes, which spandrel's restricted unpickler refuses. `.ckpt`/`.pth` files are
therefore read with an unpickler that rebuilds tensors and turns every other class into an inert placeholder
(no code from the file runs, nothing else needs installing). Repackaged checkpoints name their keys
differently (`generator.model.*`, `model.model.*`, or the bare generator's `model.*`), so the keys are brought
to spandrel's layout and discriminator/loss entries dropped before spandrel builds the
`MaskedImageModelDescriptor`. spandrel pads to multiples of 8.
"""

from __future__ import annotations


from core.errors import ModelLoadError
from models.contracts import BackendStatus, missing_modules
from models.object_removal.removal import InpaintBackend
from models import hub
from models.weights import WeightSource, fetch, known_hub_files, parse_weight_source, weight_status

ENV_VAR = "GATEWAY_OBJECT_REMOVAL_MODEL"


def lama_state_dict(state_dict: dict) -> dict:
    """Keys of any big-lama packaging → the `model.model.*` layout spandrel's LaMa detects."""
    keys = list(state_dict)
    if any(k.startswith(("generator.model.", "model.model.")) for k in keys):
        return {k: v for k, v in state_dict.items() if k.startswith(("generator.model.", "model.model."))}
    if any(k.startswith("model.") for k in keys):  # the bare FFCResNetGenerator
        return {"model." + k: v for k, v in state_dict.items() if k.startswith("model.")}
    return state_dict


class _Inert:
    """Stands in for any class a checkpoint pickles besides tensors (Lightning callbacks, configs): none of its
    code runs, whatever arguments or state the pickle gives it."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


_TENSOR_GLOBALS = {("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"),
                   ("torch._utils", "_rebuild_parameter"), ("torch", "Size")}


def _inert_pickle_module():
    import pickle
    from types import SimpleNamespace

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) in _TENSOR_GLOBALS:
                return super().find_class(module, name)
            return _Inert  # torch's own wrapper resolves the Storage classes before asking here

    return SimpleNamespace(Unpickler=Unpickler, __name__="pickle",
                           load=lambda *args, **kwargs: Unpickler(*args, **kwargs).load())


def read_checkpoint(path) -> dict:
    """The tensors of a .ckpt/.pth checkpoint (Lightning's `state_dict` unwrapped), with no foreign code run."""
    import torch

    loaded = torch.load(str(path), map_location="cpu", pickle_module=_inert_pickle_module(), weights_only=False)
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict):
        raise ModelLoadError(f"{path} holds no state dict")
    return {k: v for k, v in loaded.items() if isinstance(v, torch.Tensor)}


def load_lama(path, device: str):
    from models.spandrel_compat import import_spandrel

    import_spandrel()  # also without torchvision (the CPU install)
    from spandrel import MaskedImageModelDescriptor, ModelLoader

    loader = ModelLoader()
    try:
        if str(path).lower().endswith((".ckpt", ".pth")):
            state_dict = read_checkpoint(path)
        else:
            state_dict = loader.load_state_dict_from_file(str(path))
        descriptor = loader.load_from_state_dict(lama_state_dict(state_dict))
    except Exception as exc:  # noqa: BLE001 - spandrel raises several types for unknown files
        raise ModelLoadError(f"spandrel could not load LaMa weights from {path}: {exc}") from exc
    if not isinstance(descriptor, MaskedImageModelDescriptor):
        raise ModelLoadError(f"{path} holds a {descriptor.architecture.name} model, not an inpainting model.")
    descriptor.eval()
    descriptor.to(device)
    return descriptor


class LamaHandle:
    def __init__(self, descriptor, device: str, model_id: str):
        self.descriptor, self.device, self.model_id = descriptor, device, model_id

    def parameters(self):
        return self.descriptor.model.parameters()

    def release(self) -> None:
        self.descriptor = None


class LamaBackend(InpaintBackend):
    name = "lama"
    human_name = "LaMa"
    licence = ("big-lama weights: Apache-2.0 (the LaMa authors' release, advimman/lama; the default "
               "lllyasviel/Annotators/lama.ckpt is that file byte for byte, whose repo card says only `license: "
               "other`); spandrel loader: MIT")
    description = ("LaMa (big-lama) through spandrel: the best fill for large holes; ~8 s for 512² on one CPU core, "
                   "tens of ms on a GPU.")
    estimated_bytes = 450 * 2**20

    def _source(self) -> WeightSource | None:
        return parse_weight_source(self.settings.object_removal_model, ENV_VAR, single_file=True)

    def status(self) -> BackendStatus:
        if absent := missing_modules("torch", "spandrel"):
            return absent
        return weight_status(self._source(), env_var=ENV_VAR, what="LaMa weights", capability=self.capability)

    def cache_key(self) -> str:
        return f"object_removal/lama:{self.settings.object_removal_model}"

    def weight_files(self, device: str) -> list:
        source = self._source()
        own = [known_hub_files(source)] if source is not None and source.is_hub else []
        return own + (self.grounder.weight_files() if self.grounder is not None else [])

    def download_weights(self) -> str:
        source = self._source()
        if source is None or not source.is_hub:
            return "object_removal/lama: nothing to download (local weights)"
        return f"object_removal/lama: {fetch(source, allow_download=True)}"

    def load(self, device: str) -> LamaHandle:
        from models.devices import resolve_device

        source = self._source()
        if source is None:
            raise ModelLoadError(f"No LaMa weights are configured ({ENV_VAR}).")
        device = resolve_device(device)
        path = fetch(source, allow_download=hub.downloads_allowed(self.settings))
        return LamaHandle(load_lama(path, device), device, source.label)

    def model_id(self, handle: LamaHandle) -> str:
        return handle.model_id

    def fill(self, handle: LamaHandle, rgb, hole, request):
        import numpy as np
        import torch

        with torch.inference_mode():
            image = torch.from_numpy(rgb.transpose(2, 0, 1).copy()).float().div_(255).unsqueeze(0).to(handle.device)
            mask = torch.from_numpy(hole.astype(np.float32))[None, None].to(handle.device)
            out = handle.descriptor(image, mask)[0]
        return (out.permute(1, 2, 0).cpu().numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
