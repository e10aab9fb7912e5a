"""People counted once: MoveNet people merged with the head counter's faces and HOG bodies.

MoveNet finds at most 6 people per call and misses small, crowded ones; the head counter (CenterFace
faces plus HOG bodies, ``vision.incidents.people``) finds dense crowds but only faces and upright
bodies. Each MoveNet person absorbs at most one face (the nearest to its nose among the faces holding one
of its head keypoints, or whose centre lies in the head part of its box) and at most one body
(overlapping its box), so nobody is counted twice;
faces and bodies left over are more people. Measured on counting/heads by ``bench/count_accuracy.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from vision.incidents.people import PersonBox
from vision.people.movenet import Person

HEAD_SHARE = 0.35  # the top part of a body box where its face is (a person without visible head keypoints)
HEAD_KEYPOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
FACE_MARGIN = 0.25
BODY_IOU = 0.3  # a body detection overlapping a person this much is that person


def person_box(person: Person) -> PersonBox:
    """A MoveNet person as a counted body (its foot point is the bottom of its box)."""
    x, y, w, h = person.box
    return PersonBox(x, y, w, h, person.score, "body")


def merge_counted(people: Sequence[Person], detections: Sequence[PersonBox]) -> list[PersonBox]:
    """MoveNet people plus the faces and bodies that are nobody among them."""
    merged = [person_box(p) for p in people]
    has_face = [False] * len(people)
    has_body = [False] * len(people)
    for found in sorted(detections, key=lambda d: d.score, reverse=True):
        if found.source == "face":
            index = _owner_of_face(people, found, has_face)
            taken = has_face
        else:
            index = _owner_of_body(people, found, has_body)
            taken = has_body
        if index is None:
            merged.append(found)
        else:
            taken[index] = True
    return merged


def _owner_of_face(people: Sequence[Person], face: PersonBox, taken: list[bool]) -> int | None:
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    best, best_distance = None, math.inf
    for index, person in enumerate(people):
        head = _head_points(person)
        if taken[index] or not _holds_face(person, head, face, cx, cy):
            continue
        hx, hy = head[0] if head else (person.box[0] + person.box[2] / 2, person.box[1] + person.box[3] * 0.1)
        distance = math.hypot(cx - hx, cy - hy)
        if distance < best_distance:
            best, best_distance = index, distance
    return best


def _head_points(person: Person) -> list[tuple[float, float]]:
    """The person's visible nose, eyes and ears (nose first)."""
    found = (person.point(name) for name in HEAD_KEYPOINTS)
    return [point for point in found if point is not None]


def _holds_face(person: Person, head: list[tuple[float, float]], face: PersonBox, cx: float, cy: float) -> bool:
    """A head keypoint inside the face box (a margin of a quarter around it); without any, the face's centre
    in the top of the person's box."""
    if head:
        mx, my = face.w * FACE_MARGIN, face.h * FACE_MARGIN
        return any(
            face.x - mx <= x <= face.x + face.w + mx and face.y - my <= y <= face.y + face.h + my for x, y in head
        )
    x, y, w, h = person.box
    return x <= cx <= x + w and y <= cy <= y + h * HEAD_SHARE


def _owner_of_body(people: Sequence[Person], body: PersonBox, taken: list[bool]) -> int | None:
    best, best_iou = None, BODY_IOU
    for index, person in enumerate(people):
        overlap = _iou(person.box, (body.x, body.y, body.w, body.h))
        if not taken[index] and overlap >= best_iou:
            best, best_iou = index, overlap
    return best


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
