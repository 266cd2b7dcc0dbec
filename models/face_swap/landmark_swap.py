"""The classical face swap: dlib 68-point landmarks → Delaunay warp → colour transfer → seamless blend.

`DlibFaces` finds faces (HOG detector on a downscaled copy, landmarks on the full-resolution image) with the
weights that ship in the `face_recognition_models` package. `swap_face` warps the source face triangle by
triangle onto the target's landmark geometry, matches its colours to the target face in Lab space, blends
it with Poisson cloning (`cv2.seamlessClone`) and composites the result only inside the convex hull of the
target's landmarks, so every pixel outside that hull stays bit-identical to the target. Images are RGB
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
    # Work on a crop around the face: cheaper for big photos, and seamlessClone needs room around the mask.
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
    warped = _match_colours(warped, crop, inner)

    blended = _seamless_clone(warped, crop, inner)
    # Feather toward the hull edge, then keep strictly inside it: outside the hull nothing may change.
    soft = max(3, (max(bw, bh) // 20) | 1)
    alpha = cv2.GaussianBlur(cv2.erode(inner, np.ones((soft, soft), np.uint8)), (2 * soft + 1, 2 * soft + 1), 0)
    alpha = (alpha.astype(np.float32) / 255.0) * (crop_hull > 0)
    mixed = blended.astype(np.float32) * alpha[..., None] + crop.astype(np.float32) * (1.0 - alpha[..., None])
    out_crop = crop.copy()
    inside = crop_hull > 0
    out_crop[inside] = np.clip(np.rint(mixed[inside]), 0, 255).astype(np.uint8)
    out = target.copy()
    out[y0:y1, x0:x1] = out_crop
    return out


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
    """Reinhard colour transfer in Lab: the warped face takes the target face's mean and spread per channel."""
    import cv2

    inside = mask > 0
    if inside.sum() < 16:
        return face
    src_lab = cv2.cvtColor(face, cv2.COLOR_RGB2LAB).astype(np.float32)
    dst_lab = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).astype(np.float32)
    s, d = src_lab[inside], dst_lab[inside]
    ratio = d.std(axis=0) / np.maximum(s.std(axis=0), 1e-3)
    ratio = np.clip(ratio, 0.5, 2.0)  # keep the source's own contrast from being crushed or blown out
    src_lab = (src_lab - s.mean(axis=0)) * ratio + d.mean(axis=0)
    return cv2.cvtColor(np.clip(src_lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def _seamless_clone(face: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Poisson blend of `face` into `target` inside `mask`; falls back to `face` where cloning is impossible."""
    import cv2

    x, y, w, h = cv2.boundingRect(mask)
    if w < 3 or h < 3:
        return target.copy()
    # seamlessClone rejects masks that touch the border; a reflected frame gives it the room it needs.
    b = 2
    face_p = cv2.copyMakeBorder(face, b, b, b, b, cv2.BORDER_REFLECT_101)
    target_p = cv2.copyMakeBorder(target, b, b, b, b, cv2.BORDER_REFLECT_101)
    mask_p = cv2.copyMakeBorder(mask, b, b, b, b, cv2.BORDER_CONSTANT, value=0)
    mask_p[:b + 1, :] = mask_p[-b - 1:, :] = 0
    mask_p[:, :b + 1] = mask_p[:, -b - 1:] = 0
    x, y, w, h = cv2.boundingRect(mask_p)
    if w < 3 or h < 3:
        return face
    center = (x + w // 2, y + h // 2)
    cloned = cv2.seamlessClone(face_p, target_p, mask_p, center, cv2.NORMAL_CLONE)
    return cloned[b:-b, b:-b]
