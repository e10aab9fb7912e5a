"""The fused Dlib+MobileFaceNet embedder: a unit vector whose dot product is the weighted mean of the parts' cosines."""

from __future__ import annotations

import numpy as np
import pytest

from vision.faces.detectors import build_detector
from vision.faces.embedders import FUSIONS, FusedEmbedder, build_embedder, combine_vectors, fusion_parts
from vision.faces.image import decode_image

pytestmark = pytest.mark.slow
FUSED = "Dlib+MobileFaceNet"


@pytest.fixture(scope="module")
def faces(sample_file):  # type: ignore[no-untyped-def]
    detector = build_detector("dlib-hog")
    found = {}
    for name in ("img1.jpg", "img2.jpg", "img3.jpg"):  # img1 and img2: one person; img3: another
        image = decode_image(sample_file("faces", "deepface", name).read_bytes())
        found[name] = (image, detector.detect(image)[0])
    return found


def test_fused_similarity_is_the_weighted_mean_of_the_parts(faces):
    # given the fusion and its two parts
    fused = build_embedder(FUSED)
    assert isinstance(fused, FusedEmbedder)
    dlib, mobile = build_embedder("Dlib-onnx"), build_embedder("MobileFaceNet")
    weights = dict(FUSIONS[FUSED])

    # when each photo is embedded by the fusion and by each part
    vectors = {name: fused.embed(image, face) for name, (image, face) in faces.items()}
    parts = {name: (dlib.embed(image, face), mobile.embed(image, face)) for name, (image, face) in faces.items()}

    # then fused vectors are unit length, 320-d, and dot products are the weighted mean of the cosines
    for vector in vectors.values():
        assert vector.shape == (320,)
        assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)
    for a, b in (("img1.jpg", "img2.jpg"), ("img1.jpg", "img3.jpg")):
        expected = weights["Dlib"] * float(parts[a][0] @ parts[b][0]) + weights["MobileFaceNet"] * float(
            parts[a][1] @ parts[b][1]
        )
        assert float(vectors[a] @ vectors[b]) == pytest.approx(expected, abs=1e-5)
    # and the same person scores higher than a different one
    assert float(vectors["img1.jpg"] @ vectors["img2.jpg"]) > float(vectors["img1.jpg"] @ vectors["img3.jpg"]) + 0.2


def test_stored_part_vectors_combine_into_the_same_fused_vector(faces):
    # given the per-model vectors a template stores
    image, face = faces["img1.jpg"]
    stored = {
        "Dlib": build_embedder("Dlib-onnx").embed(image, face),
        "MobileFaceNet": build_embedder("MobileFaceNet").embed(image, face),
    }

    # when the gallery combines them, they equal what the live embedder computes
    combined = combine_vectors(fusion_parts(FUSED), stored)[0]

    assert np.allclose(combined, build_embedder(FUSED).embed(image, face), atol=1e-6)
    assert fusion_parts("Dlib") == [("Dlib", 1.0)]


def test_fusion_refuses_a_single_part_or_a_non_positive_weight():
    dlib = build_embedder("Dlib-onnx")
    with pytest.raises(ValueError, match="two or more"):
        FusedEmbedder([(dlib, 1.0)])
    with pytest.raises(ValueError, match="positive weights"):
        FusedEmbedder([(dlib, 1.0), (dlib, 0.0)])
