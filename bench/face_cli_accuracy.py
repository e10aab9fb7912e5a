"""Open-set 1:N accuracy through the operator's commands at the default settings: watchlist_import + identify.

Run: ``OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/face_cli_accuracy.py [--splits 3] [--model NAME]``
(a throwaway database on the embedded PostgreSQL; nothing else is touched).

Per split, half of the labelled identities (see ``vision.faces.datasets``; the two Hamilton people are
never enrolled) go into a fresh watchlist with ONE photo each, through ``manage.py watchlist_import`` with
absolute photo paths; then ``manage.py identify --json`` checks every other labelled photo and every
stranger photo. A mated photo is found when its top passing candidate is the right person; every face of
a stranger photo or of a non-enrolled person's photo with a passing candidate is a false positive.
Printed: enrolment acceptance, FNIR and FPIR at the default threshold, with the old default (Dlib at
similarity 0.94 with its 13-person calibration) as the reference when ``--model`` is left alone.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import sys
import tempfile
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import require_sample
from vision.faces.datasets import labelled_photos, stranger_photos

NEVER_ENROLLED = {"lin_manuel_miranda", "alex_lacamoire"}


def _throwaway_database() -> tuple[str, str]:
    from commandcenter import embedded

    embedded.ensure_services()
    base = os.environ["DATABASE_URL"]
    name = f"cc_bench_faces_{os.getpid()}"
    return base, urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def _admin_sql(base_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(urlunsplit(urlsplit(base_url)._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(statement)


def run_split(root: Path, split: int, rng: random.Random, folder: Path) -> dict[str, int]:
    """Import one watchlist for this split and identify every probe photo; return the counts."""
    from django.core.management import CommandError, call_command

    from watchlists.models import Watchlist

    photos = labelled_photos(root)
    identities = sorted({p.identity for p in photos} - NEVER_ENROLLED)
    enrolled = rng.sample(identities, len(identities) // 2)
    gallery = {i: rng.choice([p for p in photos if p.identity == i]) for i in enrolled}
    csv_path = folder / f"split{split}.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "photo", "reference"])
        for identity, photo in gallery.items():
            writer.writerow([identity, str(root / photo.path), f"{split}-{identity}"])
    Watchlist.objects.update(active=False)
    out, err = StringIO(), StringIO()
    with contextlib.suppress(CommandError):  # exits 1 when a row failed; its JSON is on stdout all the same
        call_command(
            "watchlist_import", str(csv_path), watchlist=f"Split {split}", category="wanted", stdout=out, stderr=err
        )
    report = json.loads(out.getvalue())
    probes = [p for p in photos if p not in gallery.values()]
    paths = [str(root / p.path) for p in probes] + [str(root / s) for s in stranger_photos(root)]
    out = StringIO()
    call_command("identify", *paths, json=True, stdout=out)
    checked = json.loads(out.getvalue())
    counts = {
        "tried": report["rows"],
        "enrolled": report["templates"],
        "mated": 0,
        "missed": 0,
        "non_mated": 0,
        "false": 0,
    }
    truth = {str(root / p.path): p.identity for p in probes}
    for item in checked["photos"]:
        identity = truth.get(item["photo"], "")
        faces = item.get("faces", [])
        if identity in gallery:
            counts["mated"] += 1
            best = max(faces, key=lambda f: f["box"][2] * f["box"][3], default=None)
            passing = [c for c in (best or {}).get("candidates", []) if c["passes"]]
            counts["missed"] += not (passing and passing[0]["subject"] == identity)
            continue
        for face in faces or [{}]:
            counts["non_mated"] += 1
            counts["false"] += any(c["passes"] for c in face.get("candidates", []))
    return {**counts, "model": checked["model"], "threshold": checked["thresholds"].get(f"Split {split}")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--model", help="CC_FACE_MODEL for this run (default: the shipped default)")
    args = parser.parse_args()
    root = require_sample("faces")
    base, url = _throwaway_database()
    name = urlsplit(url).path.lstrip("/")
    _admin_sql(base, f'CREATE DATABASE "{name}"')
    try:
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcenter.settings")
        if args.model:
            os.environ["CC_FACE_MODEL"] = args.model
        with tempfile.TemporaryDirectory() as media:
            os.environ["MEDIA_ROOT"] = media
            import django

            django.setup()
            from django.conf import settings
            from django.contrib.auth.models import User
            from django.core.management import call_command

            settings.MEDIA_ROOT = media
            call_command("migrate", verbosity=0)
            User.objects.create_superuser("bench-admin", password="x" * 16)
            rng = random.Random(13)
            totals: dict[str, int] = {}
            for split in range(args.splits):
                counts = run_split(root, split, rng, Path(media))
                print(f"split {split}: {counts}")
                for key, value in counts.items():
                    if isinstance(value, int):
                        totals[key] = totals.get(key, 0) + value
            fnir = totals["missed"] / max(totals["mated"], 1)
            fpir = totals["false"] / max(totals["non_mated"], 1)
            print(f"\nmodel {counts['model']} at its default threshold {counts['threshold']} (calibrated similarity):")
            print(f"  enrolment acceptance {totals['enrolled']}/{totals['tried']}")
            print(f"  FNIR {fnir:.3f} ({totals['missed']}/{totals['mated']} mated photos)")
            print(f"  FPIR {fpir:.4f} ({totals['false']}/{totals['non_mated']} non-mated faces)")
    finally:
        from django.db import connections

        connections.close_all()
        _admin_sql(base, f'DROP DATABASE IF EXISTS "{name}"')


if __name__ == "__main__":
    main()
