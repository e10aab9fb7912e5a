"""Alternative embedders on real photos: Dlib-onnx (dlib's ResNet on ONNX Runtime), FaceNet-cv2."""

from __future__ import annotations

import socket

import cv2
import numpy as np
import pytest

from vision.faces.base import FaceEmbedder
from vision.faces.calibration import shipped_threshold
from vision.faces.detectors import build_detector
from vision.faces.dlib_onnx import chip_tensor, onnx_bytes, read_dlib_resnet
from vision.faces.embedders import build_embedder, dlib_chip_rgb, embedder_names
from vision.faces.image import decode_image
from vision.faces.provision import RECOGNITION_WEIGHTS, weight_file

pytestmark = pytest.mark.slow

SAME = [("img1.jpg", "img2.jpg"), ("img8.jpg", "img9.jpg")]
DIFFERENT = [("img1.jpg", "img3.jpg"), ("img6.jpg", "img8.jpg")]


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a network connection (a weight download) fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def faces(sample_file):
    detector = build_detector("dlib-hog")
    found = {}
    for name in {n for pair in SAME + DIFFERENT for n in pair} | {"couple.jpg"}:
        image = decode_image(sample_file("faces", "deepface", name).read_bytes())
        found[name] = (image, detector.detect(image))
    return found


def embed(faces, embedder: FaceEmbedder, name: str) -> np.ndarray:
    image, detected = faces[name]
    return embedder.embed(image, detected[0])


def distance(faces, embedder: FaceEmbedder, a: str, b: str) -> float:
    return 1.0 - float(embed(faces, embedder, a) @ embed(faces, embedder, b))


def test_dlib_resnet_weights_parse_into_the_known_architecture():
    net = read_dlib_resnet(weight_file(RECOGNITION_WEIGHTS))

    assert len(net.convs) == 29
    assert net.convs[0].weights.shape == (32, 3, 7, 7)
    assert [c.stride for c in net.convs].count(2) == 5
    assert net.convs[-1].weights.shape == (256, 256, 3, 3)
    assert net.projection.shape == (256, 128)
    np.testing.assert_allclose(net.input_mean, (122.782, 117.001, 104.298), atol=1e-3)


def test_dlib_onnx_gives_dlibs_own_descriptors(faces):
    # given the same faces embedded by dlib itself and by the ONNX rebuild
    dlib_embedder, onnx_embedder = build_embedder("Dlib"), build_embedder("Dlib-onnx")

    # when both embed each photo
    for name in ("img1.jpg", "img3.jpg", "img8.jpg"):
        ours, theirs = embed(faces, onnx_embedder, name), embed(faces, dlib_embedder, name)

        # then the vectors agree to float rounding, so templates are interchangeable
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert onnx_embedder.model_name == dlib_embedder.model_name == "Dlib"


def test_opencv_dnn_runs_the_same_onnx_graph(faces):
    model, mean = onnx_bytes(weight_file(RECOGNITION_WEIGHTS))
    image, detected = faces["img1.jpg"]
    chip = dlib_chip_rgb(image, detected[0])
    net = cv2.dnn.readNetFromONNX(np.frombuffer(model, dtype=np.uint8))

    net.setInput(chip_tensor([chip], mean))
    vector = np.asarray(net.forward())[0]

    expected = build_embedder("Dlib-onnx").embed(image, detected[0])
    np.testing.assert_allclose(vector / np.linalg.norm(vector), expected, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "dimensions", "same_person_matches"),
    # FaceNet-cv2's shipped threshold rejects ~59% of genuine pairs (see calibration.py)
    [("Dlib-onnx", 128, True), ("FaceNet-cv2", 512, False)],
)
def test_embedder_shape_and_same_person_closer_than_different(faces, name, dimensions, same_person_matches):
    if name not in embedder_names(available_only=True):
        pytest.skip(f"{name}: its weight package is not installed (requirements-nodeps.txt)")
    embedder = build_embedder(name)

    vector = embed(faces, embedder, "img1.jpg")

    assert isinstance(embedder, FaceEmbedder)
    assert vector.shape == (dimensions,)
    assert vector.dtype == np.float32
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    same = [distance(faces, embedder, a, b) for a, b in SAME]
    different = [distance(faces, embedder, a, b) for a, b in DIFFERENT]
    assert max(same) < min(different)
    assert min(different) > shipped_threshold(embedder.model_name)
    assert (max(same) <= shipped_threshold(embedder.model_name)) is same_person_matches


@pytest.mark.parametrize("name", ["Dlib-onnx", "FaceNet-cv2"])
def test_batch_embedding_equals_single(faces, name):
    if name not in embedder_names(available_only=True):
        pytest.skip(f"{name}: its weight package is not installed (requirements-nodeps.txt)")
    image, detected = faces["couple.jpg"]
    embedder = build_embedder(name)

    batch = embedder.embed_many(image, detected)

    assert len(detected) == 2
    assert batch.shape == (2, embedder.dimensions)
    singles = np.stack([embedder.embed(image, face) for face in detected])
    np.testing.assert_allclose(batch, singles, atol=1e-5)
    assert embedder.embed_many(image, []).shape == (0, embedder.dimensions)
