"""Enrolment photos: one good template, or a precise reason for refusal (real models)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.faces.detectors import build_detector
from vision.faces.embedders import build_embedder
from vision.faces.enrol import (
    DEFAULT_MIN_FACE_PX,
    FaceImageError,
    FaceTooBlurryError,
    FaceTooSmallError,
    InvalidChoiceError,
    NoFaceError,
    SeveralFacesError,
    prepare_enrolment,
)
from vision.faces.image import decode_image, encode_jpeg

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stages():
    return {"detector": build_detector("dlib-hog"), "embedder": build_embedder("Dlib")}


def test_single_face_photo_gives_a_template(sample_file, stages):
    data = sample_file("faces", "deepface", "img1.jpg").read_bytes()

    face = prepare_enrolment(data, **stages)

    assert face.embedding.shape == (128,)
    assert face.embedding.dtype == np.float32
    assert float(np.linalg.norm(face.embedding)) == pytest.approx(1.0, abs=1e-5)
    assert face.model_name == "Dlib"
    assert face.image_size == (1382, 1868)
    _x, _y, w, h = face.box
    assert 300 < w < 800
    assert 300 < h < 800
    assert face.quality.score > 0.8
    crop = decode_image(face.face_jpeg)
    assert crop.shape[0] > h
    assert crop.shape[1] > w


def test_photo_without_a_person_is_no_face(sample_file, stages):
    data = sample_file("faces", "dlib_detection", "dogs.jpg").read_bytes()

    with pytest.raises(NoFaceError) as caught:
        prepare_enrolment(data, **stages)

    assert caught.value.code == "no_face"


def test_couple_photo_asks_which_face_then_enrols_the_chosen_one(sample_file, stages):
    data = sample_file("faces", "deepface", "couple.jpg").read_bytes()

    with pytest.raises(SeveralFacesError) as caught:
        prepare_enrolment(data, **stages)

    boxes = caught.value.boxes
    assert caught.value.code == "several_faces"
    assert len(boxes) == 2
    centres_x = sorted(x + w // 2 for x, _, w, _ in boxes)
    assert centres_x[0] < 1140 < centres_x[1]  # one face on each half of the 2280 px photo
    chosen = [prepare_enrolment(data, choose=i, **stages) for i in (0, 1)]
    assert [c.box for c in chosen] == boxes
    assert float(chosen[0].embedding @ chosen[1].embedding) < 0.94  # two different people


def test_choice_outside_the_faces_found(sample_file, stages):
    data = sample_file("faces", "deepface", "couple.jpg").read_bytes()

    with pytest.raises(InvalidChoiceError):
        prepare_enrolment(data, choose=2, **stages)


def test_tiny_face_is_refused(sample_file, stages):
    # given img1 shrunk so its ~590 px face is ~55 px across
    image = decode_image(sample_file("faces", "deepface", "img1.jpg").read_bytes())
    small = cv2.resize(image, None, fx=0.095, fy=0.095, interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 128, dtype=np.uint8)
    canvas[100 : 100 + small.shape[0], 200 : 200 + small.shape[1]] = small

    with pytest.raises(FaceTooSmallError) as caught:
        prepare_enrolment(encode_jpeg(canvas, quality=95), **stages)

    assert caught.value.code == "face_too_small"
    assert str(DEFAULT_MIN_FACE_PX) in caught.value.message


def test_blurry_face_is_refused(sample_file, stages):
    # given img1 blurred with a Gaussian of sigma ~1/60 of the face width
    image = decode_image(sample_file("faces", "deepface", "img1.jpg").read_bytes())
    blurred = np.asarray(cv2.GaussianBlur(image, (0, 0), 10), dtype=np.uint8)

    with pytest.raises(FaceTooBlurryError) as caught:
        prepare_enrolment(encode_jpeg(blurred, quality=95), **stages)

    assert caught.value.code == "face_too_blurry"


def test_corrupt_upload_is_refused_before_detection(stages):
    with pytest.raises(FaceImageError) as caught:
        prepare_enrolment(b"GIF89a not really", **stages)

    assert caught.value.code == "not_an_image"
