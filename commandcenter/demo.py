"""The demo venue: cameras playing real footage, and a demo watchlist of the people in it.

With ``CC_SAMPLE_DATA`` (``../shared/data``) present the cameras loop its clips; on any other machine they loop
footage from packages `make setup` installs (``commandcenter.demo_footage``).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import cv2
import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.utils import timezone

from commandcenter.demo_footage import PackagedFootage, enrolment_photo, entrance_clip
from core.roles import AUTHORISER, SUPERVISOR
from oversight.models import Deployment
from oversight.services import DeploymentPlan, deployment_authorise, deployment_request
from venues.models import Camera, Venue, Zone
from venues.services import camera_save, venue_save, zone_save
from watchlists.enrolment import EnrolmentError, subject_enroll_photo
from watchlists.models import Subject, Watchlist
from watchlists.services import subject_save, watchlist_save

logger = logging.getLogger(__name__)

DEMO_VENUE = "Demo: Almaty Arena"
DEMO_WATCHLIST = "Demo: missing persons"
DEMO_DEPLOYMENT = "Demo: face matching at the arena"
DEMO_DEPLOYMENT_DAYS = 30


@dataclass(frozen=True)
class DemoCamera:
    """A demo camera, the clip it loops and the analysers it runs."""

    name: str
    clip: tuple[str, ...]
    zone_capacity: int | None = None
    fight: bool = True
    crowd: bool = True
    counting_view: str = Camera.CountingView.NEAR


@dataclass(frozen=True)
class DemoPerson:
    """A person on the demo watchlist and the photo enrolled."""

    name: str
    photo: Path
    source: str


# Each camera shows what it is named for: the two enrolled people (a stage show, whose dancing the fight scorer
# mistakes for a scuffle); 6-9 pedestrians in a zone for 5 (the counter finds few people in the distant, dense MOT
# crowds, and this footage is hand-held, which the fight scorer also mistakes); a street fight (the boxer.mp4
# car-park scuffle is too distant to score).
SAMPLE_CAMERAS = [
    DemoCamera("Entrance (faces)", ("faces", "face_recognition", "examples", "short_hamilton_clip.mp4"), fight=False),
    DemoCamera(
        "Concourse (crowd)", ("faces", "facenet_pytorch", "examples", "video.mp4"), zone_capacity=5, fight=False
    ),
    DemoCamera("Street (incidents)", ("fights", "violence_clips", "violence_4.mp4"), crowd=False),
]
SAMPLE_PEOPLE = [
    ("Lin-Manuel Miranda (demo)", ("faces", "face_recognition", "examples", "lin-manuel-miranda.png")),
    ("Alex Lacamoire (demo)", ("faces", "face_recognition", "examples", "alex-lacamoire.png")),
]

# Without the sample folder (every user's machine): footage from opencv-doc (see demo_footage). On vtest.avi the
# people counter (wide view) counts 2-7 of the walkers, 4 or more for stretches of 4-25 s and 2-3 in between, so
# a zone for 3 is exceeded at times; there is no fight in it.
PACKAGED_CAMERAS = [
    DemoCamera("Entrance (faces)", ("entrance",), fight=False, crowd=False),
    DemoCamera(
        "Concourse (crowd)", ("pedestrians",), zone_capacity=3, fight=False, counting_view=Camera.CountingView.WIDE
    ),
    DemoCamera("Street (incidents)", ("pedestrians",), crowd=False),
]
PACKAGED_PERSON_NAME = "Demo person (OpenCV tutorial photo)"
# where each demo camera stands around the arena (43.2386, 76.9128), for the map
DEMO_POSITIONS = {
    "Entrance (faces)": (Decimal("43.239050"), Decimal("76.912150")),
    "Concourse (crowd)": (Decimal("43.238350"), Decimal("76.913400")),
    "Street (incidents)": (Decimal("43.237900"), Decimal("76.911900")),
}


def generated_clip(target: Path) -> Path:
    """A 10 s clip panning over photos shipped inside installed packages (when opencv-doc is missing too)."""
    if target.exists():
        return target
    from skimage import data

    frames = [cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)]
    target.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter.fourcc(*"mp4v"), 10, (640, 360))
    for index in range(100):
        canvas = np.full((360, 640, 3), 40, np.uint8)
        photo = cv2.resize(frames[(index // 50) % 2], (300, 300))
        x = 20 + (index % 50) * 6
        canvas[30:330, x : x + 300] = photo
        writer.write(canvas)
    writer.release()
    return target


def _sample(parts: tuple[str, ...]) -> Path | None:
    path = Path(settings.CC_SAMPLE_DATA).joinpath(*parts)
    return path if path.is_file() else None


def demo_footage() -> tuple[list[tuple[DemoCamera, Path]], list[DemoPerson]]:
    """The cameras with their clips and the people to enrol: sample data, else packaged footage, else a fallback."""
    sample_clips = [(spec, clip) for spec in SAMPLE_CAMERAS if (clip := _sample(spec.clip)) is not None]
    if len(sample_clips) == len(SAMPLE_CAMERAS):
        people = [
            DemoPerson(name, photo, "../shared/data sample")
            for name, parts in SAMPLE_PEOPLE
            if (photo := _sample(parts)) is not None
        ]
        return sample_clips, people
    packaged = PackagedFootage.find(settings.CC_OPENCV_DOC)
    if packaged is None:
        fallback = generated_clip(Path(settings.VAR_DIR) / "demo" / "generated.mp4")
        return [(spec, fallback) for spec in SAMPLE_CAMERAS], []
    clips = {
        "entrance": entrance_clip(packaged, Path(settings.VAR_DIR) / "demo" / "entrance.mp4"),
        "pedestrians": packaged.pedestrians,
    }
    photo = enrolment_photo(packaged, Path(settings.VAR_DIR) / "demo" / "enrolled.jpg")
    person = DemoPerson(PACKAGED_PERSON_NAME, photo, "Debian opencv-doc: face detection tutorial")
    return [(spec, clips[spec.clip[0]]) for spec in PACKAGED_CAMERAS], [person]


def demo_setup() -> list[str]:
    """Create (idempotently) the demo venue, cameras, zone and watchlist; return what was done."""
    actor = get_user_model().objects.filter(groups__name="admin").first()
    done: list[str] = []
    venue = Venue.objects.filter(name=DEMO_VENUE).first() or venue_save(
        actor=actor,
        venue=Venue(
            name=DEMO_VENUE,
            kind=Venue.Kind.STADIUM,
            address="Abay Ave 48",
            district="Almaly",
            latitude=Decimal("43.2386"),
            longitude=Decimal("76.9128"),
            capacity=5000,
        ),
    )
    cameras, people = demo_footage()
    for spec, clip in cameras:
        if Camera.objects.filter(venue=venue, name=spec.name).exists():
            continue
        _demo_camera(actor, venue, spec, clip)
        done.append(f"camera {spec.name} -> {clip}")
    if actor is not None:
        done += _demo_watchlist(actor, people)
    done += _demo_deployment(venue)
    return done


def _demo_deployment(venue: Venue) -> list[str]:
    """Authorise face matching at the demo venue only (requested by the demo supervisor, authorised by the
    demo authoriser); a real install has none until someone authorises one."""
    watchlist = Watchlist.objects.filter(name=DEMO_WATCHLIST).first()
    if watchlist is None or Deployment.objects.live().filter(venues=venue).exists():
        return []
    users = get_user_model().objects.filter(is_active=True)
    requester = users.filter(groups__name=SUPERVISOR).order_by("pk").first()
    if requester is None:
        logger.warning("demo: no supervisor user (create_users --demo); face matching stays off")
        return ["no demo deployment: face matching stays off until one is authorised"]
    authoriser = users.filter(groups__name=AUTHORISER).exclude(pk=requester.pk).order_by("pk").first()
    if authoriser is None:
        logger.warning("demo: no authoriser user (create_users --demo); face matching stays off")
        return ["no demo deployment: face matching stays off until one is authorised"]
    now = timezone.now()
    plan = DeploymentPlan(
        title=DEMO_DEPLOYMENT,
        purpose="Demonstration of live face matching on the demo venue's sample footage.",
        legal_basis="Demonstration only: public sample photos and clips, no real case.",
        starts_at=now,
        ends_at=now + datetime.timedelta(days=DEMO_DEPLOYMENT_DAYS),
        venues=(venue,),
        watchlists=(watchlist,),
    )
    deployment = deployment_request(actor=requester, plan=plan)
    deployment_authorise(deployment_id=deployment.pk, actor=authoriser, note="demo set-up")
    return [f"deployment {DEMO_DEPLOYMENT} authorised until {plan.ends_at:%Y-%m-%d}"]


def _demo_camera(actor: User | None, venue: Venue, spec: DemoCamera, clip: Path) -> Camera:
    camera = camera_save(
        actor=actor,
        camera=Camera(
            venue=venue,
            name=spec.name,
            latitude=DEMO_POSITIONS[spec.name][0],
            longitude=DEMO_POSITIONS[spec.name][1],
            stream_url=f"file://{clip}",
            loop_file=True,
            analysis_fps=2.0,
            fight_enabled=spec.fight,
            crowd_enabled=spec.crowd,
            counting_view=spec.counting_view,
        ),
    )
    if spec.zone_capacity is not None:
        zone_save(
            actor=actor,
            zone=Zone(
                camera=camera,
                name="Whole frame",
                capacity=spec.zone_capacity,
                polygon=[[0, 0], [1, 0], [1, 1], [0, 1]],
                gathering_rate_per_min=30,
            ),
        )
    return camera


def _demo_watchlist(actor: User, people: list[DemoPerson]) -> list[str]:
    watchlist = Watchlist.objects.filter(name=DEMO_WATCHLIST).first() or watchlist_save(
        actor=actor,
        watchlist=Watchlist(
            name=DEMO_WATCHLIST,
            category=Watchlist.Category.MISSING,
            owner=actor,
            match_threshold=0.94,
            legal_basis="Demonstration data only (public sample photos); not a real case.",
            requires_second_confirmation=False,
        ),
    )
    done = []
    for person in people:
        if Subject.objects.filter(watchlist=watchlist, display_name=person.name).exists():
            continue
        subject = subject_save(
            actor=actor,
            subject=Subject(
                watchlist=watchlist,
                display_name=person.name,
                legal_basis_reference="DEMO",
                added_by=actor,
                image_source=person.source,
                expires_at=timezone.now() + datetime.timedelta(days=365),
            ),
        )
        try:
            data = person.photo.read_bytes()
            subject_enroll_photo(subject=subject, data=data, filename=person.photo.name, actor=actor)
            done.append(f"enrolled {person.name}")
        except EnrolmentError as exc:
            logger.warning("demo enrolment of %s failed: %s", person.name, exc.message)
    return done
