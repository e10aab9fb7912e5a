"""The committed ONNX models under ``models/``: checked against ``models/manifest.json``, then loaded.

Every file has a provenance entry (npm package@version, source sha256, license, conversion
command) and the sha256 of the committed bytes. Loading refuses a missing or altered file
with a message naming the file, both digests and the command that rebuilds it. Nothing here
needs npm or TensorFlow; only ``tools.models.build`` (maintainers) does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vision.faces.provision import MissingWeightsError

logger = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
MANIFEST = "manifest.json"
BUILD_COMMAND = "python -m tools.models.build"
_CHUNK = 1 << 20

_verified: dict[tuple[str, int, int], str] = {}
_verified_lock = threading.Lock()


class ModelFileError(MissingWeightsError):
    """A model file is missing, unknown or not the committed bytes; the message says how to rebuild it."""


@dataclass(frozen=True)
class ModelInfo:
    """One manifest entry: the committed file and what it is."""

    name: str
    file: str
    sha256: str
    size: int
    shipped: bool
    description: str
    inputs: dict[str, str]
    outputs: dict[str, str]

    @property
    def rebuild(self) -> str:
        """The command that regenerates this file from its npm package."""
        return f"{BUILD_COMMAND} {self.name}"


@dataclass(frozen=True)
class VerifiedModel:
    """Outcome of checking one manifest entry (``path`` is None for an optional model not built)."""

    info: ModelInfo
    path: Path | None


def manifest(directory: Path = MODELS_DIR) -> dict[str, ModelInfo]:
    """Read ``manifest.json`` in ``directory``: every model it records, by name."""
    path = directory / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelFileError(f"model manifest {path} is missing; restore it from git or run {BUILD_COMMAND}") from exc
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"model manifest {path} is not valid JSON ({exc}); restore it from git") from exc
    models: dict[str, Any] = raw.get("models", {})
    return {
        name: ModelInfo(
            name=name,
            file=entry["file"],
            sha256=entry["sha256"],
            size=int(entry["size"]),
            shipped=bool(entry.get("shipped", True)),
            description=entry.get("description", ""),
            inputs=dict(entry.get("inputs", {})),
            outputs=dict(entry.get("outputs", {})),
        )
        for name, entry in models.items()
    }


def model_info(name: str, directory: Path = MODELS_DIR) -> ModelInfo:
    """The manifest entry of ``name``; raise :class:`ModelFileError` for an unknown name."""
    known = manifest(directory)
    if name not in known:
        raise ModelFileError(
            f"no model named {name!r} in {directory / MANIFEST} (known: {', '.join(sorted(known)) or 'none'}); "
            f"build it with `{BUILD_COMMAND} {name}`"
        )
    return known[name]


def model_path(name: str, directory: Path = MODELS_DIR) -> Path:
    """Where the file of ``name`` lives (not checked; see :func:`verify`)."""
    return directory / model_info(name, directory).file


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(name: str, directory: Path = MODELS_DIR) -> Path:
    """Check the file of ``name`` against its manifest sha256 and return its path.

    The result is cached per process by (path, mtime, size): a file replaced or touched is
    hashed again. Raises :class:`ModelFileError` naming the file, both digests and the
    command that rebuilds it.
    """
    info = model_info(name, directory)
    path = directory / info.file
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ModelFileError(
            f"model file {path} is missing (expected sha256 {info.sha256}); restore it with "
            f"`git checkout -- models/{info.file}` or rebuild it with `{info.rebuild}` (needs npm and network)"
        ) from None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _verified_lock:
        if _verified.get(key) == info.sha256:
            return path
    actual = sha256_file(path)
    if actual != info.sha256:
        raise ModelFileError(
            f"model file {path} is not the committed one: sha256 {actual} ({stat.st_size} bytes), "
            f"expected {info.sha256} ({info.size} bytes) from {directory / MANIFEST}; restore it with "
            f"`git checkout -- models/{info.file}` or rebuild it with `{info.rebuild}` (needs npm and network)"
        )
    with _verified_lock:
        _verified[key] = actual
    logger.debug("model %s verified (sha256 %s)", name, actual)
    return path


def verify_all(directory: Path = MODELS_DIR) -> list[VerifiedModel]:
    """Check every manifest entry; an optional (not shipped) model that was never built is reported, not refused."""
    results = []
    for name, info in manifest(directory).items():
        if not info.shipped and not (directory / info.file).exists():
            results.append(VerifiedModel(info, None))
            continue
        results.append(VerifiedModel(info, verify(name, directory)))
    return results


def onnx_session(name: str, *, threads: int = 1, directory: Path = MODELS_DIR) -> Any:
    """A checked ``onnxruntime.InferenceSession`` on CPU: ``threads`` intra-op threads, no spinning."""
    import onnxruntime as ort

    path = verify(name, directory)
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
