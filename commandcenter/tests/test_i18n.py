"""The Russian and Kazakh catalogues translate every string the code marks, and compile cleanly."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

LOCALE = Path(settings.BASE_DIR) / "locale"
LANGUAGES = ("ru", "kk")


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.po"


def msgids(po: Path) -> set[str]:
    """The message ids of a .po file (multi-line ids joined), header excluded."""
    ids, current, reading = set(), [], False
    for line in [*po.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("msgid "):
            current, reading = [line[6:]], True
        elif reading and line.startswith('"'):
            current.append(line)
        else:
            if reading:
                text = "".join(part.strip()[1:-1] for part in current)
                if text:
                    ids.add(text)
            reading = False
    return ids


@pytest.fixture(scope="module")
def msgfmt() -> str:
    tool = shutil.which("msgfmt")
    if tool is None:
        pytest.fail("msgfmt (Debian package gettext) is required: make setup installs it")
    return tool


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_is_complete_and_compiles(language, msgfmt, tmp_path):
    # when the catalogue is compiled with format checks
    result = subprocess.run(
        [msgfmt, "--check", "--statistics", "-o", str(tmp_path / "django.mo"), str(po_path(language))],
        capture_output=True,
        text=True,
        check=False,
    )
    # then it compiles and every message is translated, none fuzzy
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"\d+ translated messages\.\n", result.stderr), result.stderr


def test_catalogues_cover_every_marked_string(tmp_path, settings, monkeypatch):
    # given a copy of the code and templates with an empty catalogue folder (the real one stays untouched)
    source = tmp_path / "src"
    skip = shutil.ignore_patterns(".*", "var", "media", "locale", "bench", "tests", "__pycache__", "*.mo", "*.po")
    shutil.copytree(settings.BASE_DIR, source, ignore=skip)
    (source / "locale" / "ru" / "LC_MESSAGES").mkdir(parents=True)
    settings.LOCALE_PATHS = [str(source / "locale")]
    monkeypatch.chdir(source)
    # when makemessages extracts the strings marked for translation today
    call_command("makemessages", locale=["ru"], verbosity=0, no_location=True)
    marked = msgids(source / "locale" / "ru" / "LC_MESSAGES" / "django.po")
    # then each catalogue in the repository already has every one of them
    assert len(marked) > 300
    for language in LANGUAGES:
        missing = sorted(marked - msgids(po_path(language)))
        assert not missing, f"{language}: run `manage.py makemessages -l {language}` and translate: {missing}"
