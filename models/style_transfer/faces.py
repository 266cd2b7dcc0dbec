"""Faces stay readable under a painterly style: the stylised image is blended back towards the photo inside a
feathered ellipse around each face that dlib's HOG detector (models/vision, OpenCV's Haar cascade without
dlib) finds. The multi-style network paints the astronaut's face in the palette of the whole canvas (Van Gogh:
muddy green and blue, no eyes); keeping `KEEP` of the photo there leaves the face recognisable with the
painting's strokes over it, and the rest of the picture is untouched.
"""

from __future__ import annotations

KEEP = 0.55  # share of the photo kept at the middle of a face
GROW = 1.5  # the ellipse's half-axes, in face-box halves (hair, chin and ears come along)


def protect_faces(painted, photo):
    """`painted` (PIL RGB, the same size as `photo`) with the faces of `photo` partly restored; unchanged when
    there is no face."""
    import cv2
    import numpy as np
    from PIL import Image

    from models.vision.segment import detect_faces

    rgb = np.asarray(photo.convert("RGB"))
    faces, _detector = detect_faces(rgb)
    if not faces:
        return painted
    weight = np.zeros(rgb.shape[:2], np.float32)
    for left, top, right, bottom in faces:
        centre = (round((left + right) / 2), round((top + bottom) / 2))
        axes = (max(1, round((right - left) / 2 * GROW)), max(1, round((bottom - top) / 2 * GROW)))
        cv2.ellipse(weight, centre, axes, 0, 0, 360, 1.0, -1)
        sigma = max(2.0, (right - left) / 4)
    weight = cv2.GaussianBlur(weight, (0, 0), sigma)[..., None] * KEEP
    mixed = np.asarray(painted, np.float32) * (1 - weight) + rgb.astype(np.float32) * weight
    return Image.fromarray(np.clip(np.rint(mixed), 0, 255).astype(np.uint8))
