"""Enrolment photos: a template with its quality warnings, or a precise reason why it cannot work (real models)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.faces.detectors import build_detector
from vision.faces.embedders import build_embedder
from vision.faces.enrol import (
    DEFAULT_MIN_FACE_PX,
    FaceImageError,
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
    return {"detector": build_detector("dlib-hog"), "embedders": [build_embedder("Dlib")]}


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
    assert face.warnings == []
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


def _shrunk_onto_canvas(image: np.ndarray, factor: float) -> bytes:
    small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 128, dtype=np.uint8)
    canvas[100 : 100 + small.shape[0], 200 : 200 + small.shape[1]] = small
    return encode_jpeg(canvas, quality=95)


def test_small_face_is_enrolled_with_a_warning(sample_file, stages):
    # given img1 shrunk so its ~590 px face is ~55 px across (the old 80 px limit refused it)
    image = decode_image(sample_file("faces", "deepface", "img1.jpg").read_bytes())
    full = prepare_enrolment(sample_file("faces", "deepface", "img1.jpg").read_bytes(), **stages)

    face = prepare_enrolment(_shrunk_onto_canvas(image, 0.095), **stages)

    assert DEFAULT_MIN_FACE_PX <= face.quality.size_px < 80
    assert [w.code for w in face.warnings] == ["small_face"]
    assert float(face.embedding @ full.embedding) > 0.94  # still the same person


def test_face_below_the_measured_minimum_is_refused(sample_file, stages):
    # given img1 shrunk so its face is ~26 px across: under the 32 px minimum, found by MTCNN (HOG's boxes
    # never go below 40 px, so with HOG such a face is simply not found)
    image = decode_image(sample_file("faces", "deepface", "img1.jpg").read_bytes())
    mtcnn = {**stages, "detector": build_detector("mtcnn")}

    with pytest.raises(FaceTooSmallError) as caught:
        prepare_enrolment(_shrunk_onto_canvas(image, 0.045), **mtcnn)

    assert caught.value.code == "face_too_small"
    assert f"at least {DEFAULT_MIN_FACE_PX} px" in caught.value.message


def test_blurry_but_usable_face_is_enrolled_with_a_warning(sample_file, stages):
    # given img1 blurred with a Gaussian of sigma 10 px (the old gate refused it as face_too_blurry)
    data = sample_file("faces", "deepface", "img1.jpg").read_bytes()
    image = decode_image(data)
    blurred = np.asarray(cv2.GaussianBlur(image, (0, 0), 10), dtype=np.uint8)

    face = prepare_enrolment(encode_jpeg(blurred, quality=95), **stages)

    assert [w.code for w in face.warnings] == ["blurry"]
    assert face.quality.sharpness < 50
    assert face.quality.score < prepare_enrolment(data, **stages).quality.score
    # and it still matches another photo of the same person better than a different person
    other = prepare_enrolment(sample_file("faces", "deepface", "img2.jpg").read_bytes(), **stages)
    stranger = prepare_enrolment(sample_file("faces", "deepface", "img3.jpg").read_bytes(), **stages)
    assert float(face.embedding @ other.embedding) > float(face.embedding @ stranger.embedding)


def test_dominant_central_face_is_taken_with_a_warning(sample_file, stages):
    # given img67: one large central face and a small face in the background (refused before)
    data = sample_file("faces", "deepface", "img67.jpg").read_bytes()

    face = prepare_enrolment(data, **stages)

    assert face.warnings[0].code == "several_faces"
    assert face.quality.size_px > 200


def test_corrupt_upload_is_refused_before_detection(stages):
    with pytest.raises(FaceImageError) as caught:
        prepare_enrolment(b"GIF89a not really", **stages)

    assert caught.value.code == "not_an_image"
