"""Finding a named object ("the watermark", "the person on the left") with CLIPSeg through transformers.

The model is `object_removal_grounding_model` (default CIDAS/clipseg-rd64-refined: a hub id in the
huggingface_hub cache, fetched by `python -m models.download object_removal`, or a local folder). It is only
used when its weights are here: otherwise the capability asks the user to paint the area instead of
guessing. The loaded model lives in the registry's model cache (shared by every inpainting backend); when no
registry is attached (a backend driven directly) it is kept here. `heatmap()` returns per-pixel
probabilities at the image's size; masks.select_components turns them into the object's pixels.
"""

from __future__ import annotations

import threading

from models.contracts import BackendStatus, DOWNLOADABLE, missing_modules, READY
from models import hub
from models.weights import WeightSource, fetch, known_hub_files, parse_weight_source, weight_status

ENV_VAR = "GATEWAY_OBJECT_REMOVAL_GROUNDING_MODEL"
LICENCE = "CLIPSeg weights (CIDAS/clipseg-rd64-refined): Apache-2.0 per the model card; code MIT"


class ClipSegGrounder:
    estimated_bytes = 600 * 2**20

    def __init__(self, settings):
        self.settings = settings
        self._cache = None
        self._own = None
        self._lock = threading.Lock()

    def attach_cache(self, cache) -> None:
        self._cache = cache

    def source(self) -> WeightSource | None:
        return parse_weight_source(self.settings.object_removal_grounding_model, ENV_VAR, single_file=False)

    def status(self) -> BackendStatus:
        if absent := missing_modules("torch", "transformers"):
            return absent
        return weight_status(self.source(), env_var=ENV_VAR, what="CLIPSeg text-grounding model",
                             capability="object_removal")

    def available(self) -> bool:
        state = self.status().state
        return state == READY or (state == DOWNLOADABLE and hub.downloads_allowed(self.settings))

    def describe(self) -> dict:
        st = self.status()
        return {"name": "clipseg", "status": st.state, "reason": st.reason, "fix": st.fix, "licence": LICENCE,
                "description": "finds a named object to erase when no mask is painted"}

    @property
    def model_id(self) -> str:
        source = self.source()
        return source.label if source else ""

    def cache_key(self) -> str:
        return f"object_removal/clipseg:{self.settings.object_removal_grounding_model}"

    def weight_files(self) -> list:
        source = self.source()
        spec = known_hub_files(source) if source is not None else None
        return [spec] if spec is not None else []

    def download(self) -> str:
        source = self.source()
        if source is None or not source.is_hub:
            return "object_removal/clipseg: nothing to download"
        return f"object_removal/clipseg: {fetch(source, allow_download=True)}"

    def load(self, device: str):
        from transformers import CLIPSegForImageSegmentation, CLIPSegProcessor

        from models.devices import resolve_device

        source = self.source()
        folder = fetch(source, allow_download=hub.downloads_allowed(self.settings))
        processor = CLIPSegProcessor.from_pretrained(str(folder), local_files_only=True)
        model = CLIPSegForImageSegmentation.from_pretrained(str(folder), local_files_only=True).eval()
        device = resolve_device(device)
        return _LoadedClipSeg(processor, model.to(device), device)

    def heatmap(self, image, prompt: str, device: str):
        """Probabilities (float32, H x W of `image`) that each pixel shows `prompt`."""
        if self._cache is not None:
            with self._cache.use(self.cache_key(), lambda: self.load(device), self.estimated_bytes) as loaded:
                return loaded.heatmap(image, prompt)
        with self._lock:
            if self._own is None:
                self._own = self.load(device)
        return self._own.heatmap(image, prompt)


class _LoadedClipSeg:
    def __init__(self, processor, model, device: str):
        self.processor, self.model, self.device = processor, model, device

    def parameters(self):  # lets the model cache measure the size
        return self.model.parameters()

    def heatmap(self, image, prompt: str):
        import torch

        inputs = self.processor(text=[prompt], images=[image.convert("RGB")], return_tensors="pt", padding=True)
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        with torch.inference_mode():
            logits = self.model(**inputs).logits
        logits = logits.reshape(-1, 1, *logits.shape[-2:])[:1].float()
        probabilities = torch.sigmoid(torch.nn.functional.interpolate(
            logits, size=(image.height, image.width), mode="bilinear", align_corners=False))
        return probabilities[0, 0].cpu().numpy()

    def release(self) -> None:
        self.model = None
