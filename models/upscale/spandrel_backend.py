"""The neural upscaler: Real-ESRGAN (or any super-resolution weights spandrel recognises) on torch.

Weights come from `upscale_model` (a local .pth/.safetensors file or a Hugging Face hub file, fetched into the
huggingface_hub cache by `python -m models.download upscale`); spandrel detects the architecture (RRDBNet
x2/x4, Compact/SRVGG, SPAN, …) and the native scale from the state dict, so `realesrgan`/`basicsr` are not
needed. `upscale_anime_model`, when set, serves anime/illustration requests and loads on first use. Inference
runs in overlapping tiles (fp16 on CUDA where the architecture supports it) with an out-of-memory retry at
half the tile.
"""

from __future__ import annotations

import threading

from core.errors import ModelLoadError
from models.contracts import Backend, BackendStatus, CapabilityRequest, CapabilityResult, missing_modules
from models.upscale import common
from models import hub
from models.weights import WeightSource, fetch, known_hub_files, parse_weight_source, weight_status

OVERLAP = 32  # RRDBNet's useful receptive field is wide


def load_sr_descriptor(path, device: str):
    """A spandrel ImageModelDescriptor on `device`, refusing weights that are not an RGB upscaler."""
    from models.spandrel_compat import import_spandrel

    import_spandrel()  # also without torchvision (the CPU install)
    from spandrel import ImageModelDescriptor, ModelLoader

    try:
        descriptor = ModelLoader().load_from_file(str(path))
    except Exception as exc:  # noqa: BLE001 - spandrel raises several types for unknown files
        raise ModelLoadError(f"spandrel could not load {path}: {exc}") from exc
    if not isinstance(descriptor, ImageModelDescriptor) or descriptor.scale < 2 or descriptor.input_channels != 3:
        raise ModelLoadError(f"{getattr(path, 'name', path)} is a {descriptor.architecture.name} model "
                             f"({descriptor.purpose}, scale {getattr(descriptor, 'scale', '?')}), not an RGB upscaler.")
    descriptor.eval()
    descriptor.to(device)
    if device.startswith("cuda") and descriptor.supports_half:
        descriptor.half()
    return descriptor


class SpandrelModels:
    """The main descriptor plus the optional anime one, loaded when first asked for."""

    def __init__(self, main, device: str, anime_source: WeightSource | None, allow_download: bool):
        self.main = main
        self.device = device
        self._anime_source = anime_source
        self._allow_download = allow_download
        self._anime = None
        self._lock = threading.Lock()

    def for_variant(self, variant: str):
        if variant != "anime" or self._anime_source is None:
            return self.main, None
        with self._lock:
            if self._anime is None:
                self._anime = load_sr_descriptor(fetch(self._anime_source, allow_download=self._allow_download),
                                                 self.device)
        return self._anime, self._anime_source

    def model_fn(self, descriptor):
        import torch

        dtype = next(descriptor.model.parameters()).dtype

        def run(piece):
            with torch.inference_mode():
                tensor = torch.from_numpy(piece.transpose(2, 0, 1).copy()).unsqueeze(0).to(self.device, dtype)
                return descriptor(tensor)[0].float().permute(1, 2, 0).cpu().numpy()

        return run

    def release(self) -> None:  # called by the model cache on eviction
        self.main = self._anime = None


class RealEsrganUpscaler(Backend):
    name = "realesrgan"
    capability = "upscale"
    licence = ("Real-ESRGAN weights (RealESRGAN_x4plus, default): BSD-3-Clause (xinntao/Real-ESRGAN); other "
               "configured weights keep their own licence")
    description = ("Real-ESRGAN x4plus (or any spandrel-supported SR weights from GATEWAY_UPSCALE_MODEL) on torch, "
                   "tiled with overlap blending; the best quality on real photos, fast on a GPU.")
    estimated_bytes = 400 * 2**20

    def _source(self) -> WeightSource | None:
        return parse_weight_source(self.settings.upscale_model, "GATEWAY_UPSCALE_MODEL", single_file=True)

    def _anime_source(self) -> WeightSource | None:
        return parse_weight_source(self.settings.upscale_anime_model, "GATEWAY_UPSCALE_ANIME_MODEL", single_file=True)

    def status(self) -> BackendStatus:
        if absent := missing_modules("torch", "spandrel"):
            return absent
        return weight_status(self._source(), env_var="GATEWAY_UPSCALE_MODEL", what="Real-ESRGAN weights",
                             capability=self.capability)

    def cache_key(self) -> str:
        return f"upscale/realesrgan:{self.settings.upscale_model}|{self.settings.upscale_anime_model}"

    def load(self, device: str) -> SpandrelModels:
        from models.devices import resolve_device

        device = resolve_device(device)
        source = self._source()
        if source is None:
            raise ModelLoadError("No Real-ESRGAN weights are configured (GATEWAY_UPSCALE_MODEL).")
        allow = hub.downloads_allowed(self.settings)
        main = load_sr_descriptor(fetch(source, allow_download=allow), device)
        return SpandrelModels(main, device, self._anime_source(), allow)

    def weight_files(self, device: str) -> list:
        return [spec for spec in (known_hub_files(s) for s in (self._source(), self._anime_source()) if s) if spec]

    def download(self) -> str:
        fetched = [str(fetch(s, allow_download=True)) for s in (self._source(), self._anime_source())
                   if s is not None and s.is_hub]
        return f"upscale/realesrgan: {', '.join(fetched) if fetched else 'nothing to download (local weights)'}"

    def run(self, handle: SpandrelModels, request: CapabilityRequest) -> CapabilityResult:
        source_image = common.input_image(request)
        image = source_image.image
        factor, notes = common.choose_factor(request.params, image.size, self.settings.max_output_pixels)
        descriptor, weights = handle.for_variant(str(request.params.get("variant", "")))
        weights = weights or self._source()
        scale = int(descriptor.scale)
        model_fn = handle.model_fn(descriptor)
        result, details = common.upscale_with_model(image, factor, scale, model_fn, tile=self.settings.upscale_tile,
                                                    overlap=OVERLAP, request=request)
        details["architecture"] = descriptor.architecture.id
        return common.build_result(request, source_image, result, factor=factor, model_id=weights.label,
                                   backend=self.name, human_name=f"{descriptor.architecture.name} x{scale} ({weights.label})",
                                   notes=notes, details=details)
