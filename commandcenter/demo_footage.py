"""Real footage for the demo on machines without ``../shared/data``, from packages `make setup` installs.

Debian's ``opencv-doc`` (installed by ``scripts/system-deps.sh``) ships ``vtest.avi``: 80 s of real
pedestrians on a walkway (768x576, 10 fps), for the crowd and incident cameras. Its face-detection tutorial
shows two webcam frames of one real person (the tutorial's author, published with the OpenCV documentation;
the circles the tutorial drew on them are painted out): one is enrolled on the demo watchlist, the other is
what the entrance camera shows, so the match is between two different photos. The entrance clip also shows
scikit-image's astronaut photo (Eileen Collins, NASA, public domain), who is on no list: a face that matches
nobody raises nothing and leaves no trace.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

logger = logging.getLogger(__name__)

PEDESTRIANS = ("examples", "data", "vtest.avi")
PORTRAIT_ENROLLED = ("opencv4", "html", "Cascade_Classifier_Tutorial_Result_Haar.jpg")
PORTRAIT_ON_CAMERA = ("opencv4", "html", "Cascade_Classifier_Tutorial_Result_LBP.jpg")
TITLE_BAR_PX = 22  # the tutorial frames are window screenshots: the title bar is cut off
CLIP_SIZE = (640, 480)
CLIP_FPS = 10
STRANGER_S = 5.0
PERSON_S = 9.0


@dataclass(frozen=True)
class PackagedFootage:
    """Paths of the packaged footage, or the reason it is not there."""

    pedestrians: Path
    enrolled_photo: Path
    camera_photo: Path

    @classmethod
    def find(cls, opencv_doc: str | Path) -> PackagedFootage | None:
        """The footage under ``opencv_doc`` when all of it is installed, else None (logged with the fix)."""
        root = Path(opencv_doc)
        footage = cls(
            root.joinpath(*PEDESTRIANS), root.joinpath(*PORTRAIT_ENROLLED), root.joinpath(*PORTRAIT_ON_CAMERA)
        )
        missing = [str(path) for path in (footage.pedestrians, footage.enrolled_photo, footage.camera_photo)]
        missing = [path for path in missing if not Path(path).is_file()]
        if missing:
            logger.warning(
                "demo footage missing (%s): install the Debian package opencv-doc (scripts/system-deps.sh); "
                "a dpkg path-exclude for /usr/share/doc also removes it",
                ", ".join(missing),
            )
            return None
        return footage


def tutorial_photo(path: Path) -> np.ndarray:
    """A tutorial frame without its window title bar and the detection circles the tutorial drew on it."""
    loaded = cv2.imread(str(path))
    if loaded is None:
        raise ValueError(f"not a readable image: {path}")
    image = np.ascontiguousarray(loaded[TITLE_BAR_PX:])
    blue, green = image[..., 0].astype(np.int16), image[..., 1].astype(np.int16)
    strokes = ((blue > 120) & (blue - green > 70)).astype(np.uint8) * 255  # pure blue and magenta strokes
    drawn = cv2.dilate(strokes, np.ones((5, 5), np.uint8))
    return np.asarray(cv2.inpaint(image, drawn, 5, cv2.INPAINT_TELEA), dtype=np.uint8)


def enrolment_photo(footage: PackagedFootage, target: Path) -> Path:
    """The enrolled person's photo, cleaned like the camera's, as a JPEG under ``target``."""
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        ok, buffer = cv2.imencode(".jpg", tutorial_photo(footage.enrolled_photo), [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:
            raise ValueError("JPEG encoding failed")
        target.write_bytes(buffer.tobytes())
    return target


def _astronaut() -> np.ndarray:
    from skimage import data

    return np.asarray(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), dtype=np.uint8)


def _drift(image: np.ndarray, focus: tuple[float, float], progress: float, size: tuple[int, int]) -> np.ndarray:
    """A slow push-in towards ``focus`` (fractions of the frame) and back; ``progress`` 0..1 over the segment."""
    zoom = 1.0 + 0.25 * math.sin(math.pi * progress)
    height, width = image.shape[:2]
    aspect = size[0] / size[1]
    crop_w = min(width, height * aspect) / zoom
    crop_h = crop_w / aspect
    x0 = min(max(focus[0] * width - crop_w / 2, 0.0), width - crop_w)
    y0 = min(max(focus[1] * height - crop_h / 2, 0.0), height - crop_h)
    view = image[round(y0) : round(y0 + crop_h), round(x0) : round(x0 + crop_w)]
    return np.asarray(cv2.resize(view, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def entrance_clip(footage: PackagedFootage, target: Path) -> Path:
    """The entrance camera's clip: a stranger (5 s), then the enrolled person on another photo (9 s); looped."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial.mp4")
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter.fourcc(*"mp4v"), CLIP_FPS, CLIP_SIZE)
    try:
        segments = [
            (_astronaut(), (0.43, 0.3), STRANGER_S),
            (tutorial_photo(footage.camera_photo), (0.66, 0.62), PERSON_S),
        ]
        for image, focus, seconds in segments:
            frames = round(seconds * CLIP_FPS)
            for index in range(frames):
                writer.write(_drift(image, focus, index / frames, CLIP_SIZE))
    finally:
        writer.release()
    partial.replace(target)  # a worker never opens a half-written clip
    return target
