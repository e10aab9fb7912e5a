"""Provisioning the dlib weights into a DeepFace home, offline."""

from __future__ import annotations

import socket

import pytest

from vision.faces.provision import (
    LANDMARKS_5_WEIGHTS,
    RECOGNITION_WEIGHTS,
    MissingWeightsError,
    package_weights_dir,
    provision_weights,
    verify_represent,
)


def test_provision_copies_both_weights_once(tmp_path):
    # given an empty DeepFace home
    # when weights are provisioned twice
    first = provision_weights(tmp_path)
    stamps = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in first}
    second = provision_weights(tmp_path)

    # then both files are in place, identical to the package's, and untouched the 2nd time
    weights = tmp_path / ".deepface" / "weights"
    assert [p.name for p in first] == [RECOGNITION_WEIGHTS, LANDMARKS_5_WEIGHTS]
    assert second == first
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in second} == stamps
    for path in first:
        assert path.parent == weights
        assert path.read_bytes() == (package_weights_dir() / path.name).read_bytes()
    assert sorted(p.name for p in weights.iterdir()) == sorted(p.name for p in first)


def test_provision_replaces_a_damaged_copy(tmp_path):
    # given a half-copied landmark file
    weights = tmp_path / ".deepface" / "weights"
    weights.mkdir(parents=True)
    (weights / LANDMARKS_5_WEIGHTS).write_bytes(b"partial")

    # when provisioning runs
    provision_weights(tmp_path)

    # then the file is whole again and no temp file is left behind
    source = package_weights_dir() / LANDMARKS_5_WEIGHTS
    assert (weights / LANDMARKS_5_WEIGHTS).read_bytes() == source.read_bytes()
    assert sorted(p.name for p in weights.iterdir()) == sorted([LANDMARKS_5_WEIGHTS, RECOGNITION_WEIGHTS])


def test_verify_represent_names_the_missing_file(tmp_path, monkeypatch):
    # given a DeepFace home without weights
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))

    # when/then verification refuses before DeepFace could try to download
    with pytest.raises(MissingWeightsError, match=RECOGNITION_WEIGHTS):
        verify_represent(tmp_path)


@pytest.mark.slow
def test_verify_represent_runs_deepface_offline(tmp_path, monkeypatch):
    # given provisioned weights and a socket layer that records any connection attempt
    attempts: list[object] = []

    def refuse(self, address):  # type: ignore[no-untyped-def]
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    provision_weights(tmp_path)

    # when DeepFace.represent runs with the Dlib model
    length = verify_represent(tmp_path)

    # then it returns a 128-d embedding without touching the network
    assert length == 128
    assert attempts == []
