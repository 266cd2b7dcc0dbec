"""The `face_swap` capability: put the face from one image onto the face(s) in another, with consent.

Backends, in order: the opt-in InsightFace swapper (non-commercial weights, off unless configured) and the
embedded landmark swap (dlib weights shipped in a package, no download). The first image gives the face and
the second receives it unless the message says otherwise; with one attachment the session's latest image is
the target. The pipeline asks for the user's confirmation before the first swap of a session
(`requires_consent`); the backends refuse without it too, and mark every output "AI-edited: face swap".
Importing this package is instant: the backends import cv2, dlib, onnxruntime and insightface in `load()`.
"""

from models.contracts import Capability
from models.face_swap.flow import CONFIRM_LABEL, CONSENT_KEY, CONSENT_TEXT, consent_question
from models.face_swap.insightface_backend import InsightFaceSwap
from models.face_swap.landmark_backend import LandmarkFaceSwap
from models.face_swap.text_params import parse_params


def capability(settings) -> Capability:
    return Capability(
        name="face_swap",
        description="put the face from one image onto the face(s) in another (first image = the face to use).",
        examples=("swap my face onto this photo", "put this face on the image you just made",
                  "use the face from the first image on the man on the left", "swap all faces"),
        min_images=2, max_images=2,
        params=("face_target", "face_index", "face_gender", "source_image", "target_image"),
        requires_consent=CONSENT_KEY, consent_text=CONSENT_TEXT, consent_label=CONFIRM_LABEL,
        consent_question=consent_question,
        backends=[InsightFaceSwap(settings), LandmarkFaceSwap(settings)],
        parse_params=parse_params,
    )
