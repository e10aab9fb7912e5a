"""One conversion job inside the build venv: convert, rewrite, verify against the original, report.

Run by ``tools.models.build`` as ``<venv>/bin/python -m tools.models.jobs SPEC.json``; writes the
ONNX file and a JSON report, or prints ``conversion failed: ...`` and exits with status 3.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from tools.models import convert as c

Feed = Callable[[list[np.ndarray], tuple[int, int]], np.ndarray]


def _resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    height, width = size
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR))


def _centre_square(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return rgb[top : top + side, left : left + side]


FEEDS: dict[str, Feed] = {
    "rgb_int32": lambda images, size: np.stack([_resize(i, size) for i in images]).astype(np.int32),
    "rgb01_nchw": lambda images, size: (
        np.stack([_resize(i, size) for i in images]).astype(np.float32) / np.float32(255.0)
    ).transpose(0, 3, 1, 2),
    "rgb255_nhwc": lambda images, size: np.stack([_resize(i, size) for i in images]).astype(np.float32),
    "face112": lambda images, size: (
        (np.stack([_resize(_centre_square(i), (112, 112)) for i in images]).astype(np.float32) - np.float32(127.5))
        / np.float32(128.0)
    ),
}


def load_images(paths: list[str]) -> tuple[list[np.ndarray], str]:
    """Decode the verification photos as RGB; seeded noise when there are none. Returns (images, what)."""
    from PIL import Image

    if paths:
        return [np.asarray(Image.open(p).convert("RGB")) for p in paths], f"{len(paths)} sample photos"
    rng = np.random.default_rng(20240601)
    noise = [rng.integers(0, 256, size=(360, 480, 3), dtype=np.uint8) for _ in range(4)]
    return noise, "4 seeded noise images (sample data absent)"


def _batches(images: list[np.ndarray], sizes: list[int]) -> Iterator[list[np.ndarray]]:
    for size in sizes:
        for start in range(0, len(images) - size + 1, max(size, 1)):
            yield images[start : start + size]


def convert(job: dict[str, Any], source: Path) -> tuple[bytes, Any]:
    """Return the finished ONNX bytes and the reference (GraphDef, or the tflite path)."""
    import onnx

    if job["kind"] == "tfjs":
        model, reference = c.tfjs_to_onnx(source, job["tf_inputs"], job["tf_outputs"])
    elif job["kind"] == "tflite":
        model, reference = c.tflite_model(source), source
    else:
        raise c.ConversionError(f"{job['name']}: unknown kind {job['kind']!r}")
    model = c.canonical_names(c.canonical_order(c.rename_io(model, job["rename"])))
    if job["static_batch"]:
        model = c.set_dynamic_batch(model, job["static_batch"])
    model = c.name_dims(model, {k: {int(i): n for i, n in v.items()} for k, v in job["symbolic_dims"].items()})
    if job["float16"]:
        model, _ = c.store_float16(model)
    return c.finalize(onnx.ModelProto.FromString(model.SerializeToString()), doc=job["doc"]), reference


def verify(job: dict[str, Any], model: bytes, reference: Any, images: list[np.ndarray]) -> dict[str, Any]:
    """Compare the ONNX outputs with the original's on every image, size and batch; raise past ``atol``."""
    import onnxruntime as ort

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    names = [o.name for o in session.get_outputs()]
    feed = FEEDS[job["feed"]]
    sizes = [tuple(s) for s in job["feed_sizes"]] or [(112, 112)]
    worst, cases, scale = 0.0, 0, 0.0
    for size in sizes:
        for batch in _batches(images, job["batches"]):
            x = feed(batch, size)  # type: ignore[arg-type]
            got = dict(zip(names, session.run(None, {input_name: x}), strict=True))
            if job["kind"] == "tfjs":
                expected = c.run_graph_def(reference, {job["tf_inputs"][0]: x}, job["tf_outputs"])
                pairs = [(got[job["rename"][n]], e) for n, e in zip(job["tf_outputs"], expected, strict=True)]
            else:
                pairs = [(got[names[0]], c.tflite_run(reference, x))]
            for mine, theirs in pairs:
                if mine.shape != theirs.shape:
                    raise c.ConversionError(f"{job['name']}: shape {mine.shape} != original {theirs.shape}")
                worst = max(worst, float(np.abs(mine - theirs).max()))
                scale = max(scale, float(np.abs(theirs).max()))
            cases += 1
    if worst > job["atol"]:
        raise c.ConversionError(
            f"{job['name']}: ONNX differs from the original by {worst:.3g} (tolerance {job['atol']:g}) "
            f"over {cases} inputs"
        )
    return {"max_abs_diff": worst, "max_abs_reference": scale, "inputs_compared": cases}


def toolchain() -> dict[str, str]:
    """Versions of the conversion packages in this venv."""
    names = ("tensorflow-cpu", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert", "numpy", "protobuf")
    return {name: version(name) for name in names}


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Convert ``spec['source']`` into ``spec['output']`` and return the report."""
    job = spec["job"]
    model, reference = convert(job, Path(spec["source"]))
    images, what = load_images(spec["images"])
    parity = verify(job, model, reference, images)
    parity["verified_on"] = what
    parity["against"] = (
        f"TensorFlow {version('tensorflow-cpu')} running the TFJS graph"
        if job["kind"] == "tfjs"
        else f"ai-edge-litert {version('ai-edge-litert')} running the tflite file"
    )
    Path(spec["output"]).write_bytes(model)
    return {"sha256": c.sha256(model), "size": len(model), "parity": parity, "toolchain": toolchain(), "opset": c.OPSET}


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m tools.models.jobs SPEC.json`` (written by ``tools.models.build``)."""
    parser = argparse.ArgumentParser(description="convert and verify one model (run by tools.models.build)")
    parser.add_argument("spec", type=Path, help="job spec written by tools.models.build")
    args = parser.parse_args(argv)
    spec = json.loads(args.spec.read_text())
    try:
        report = run(spec)
    except c.ConversionError as error:
        print(f"conversion failed: {error}", file=sys.stderr)
        return 3
    Path(spec["report"]).write_text(json.dumps(report, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
