"""A minimal ONNX writer (protobuf wire format by hand), enough for plain CNN graphs.

The ``onnx`` package is not a dependency; ONNX Runtime and ``cv2.dnn`` only need the
serialized ``ModelProto`` bytes. Field numbers follow ``onnx/onnx.proto`` (IR 7).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_FLOAT, _INT64 = 1, 7
_ATTR_INTS = 7
IR_VERSION = 7
OPSET = 13


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _str_field(number: int, text: str) -> bytes:
    return _bytes_field(number, text.encode())


def tensor(name: str, array: npt.NDArray[np.float32] | npt.NDArray[np.int64]) -> bytes:
    """A ``TensorProto`` initializer (float32 or int64, little-endian raw data)."""
    data_type = {np.dtype(np.float32): _FLOAT, np.dtype(np.int64): _INT64}[array.dtype]
    raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    dims = b"".join(_int_field(1, int(d)) for d in array.shape)
    return dims + _int_field(2, data_type) + _str_field(8, name) + _bytes_field(9, raw)


def ints_attribute(name: str, values: Sequence[int]) -> bytes:
    """An ``AttributeProto`` holding a list of ints (kernel_shape, strides, pads)."""
    return _str_field(1, name) + b"".join(_int_field(8, v) for v in values) + _int_field(20, _ATTR_INTS)


def node(op_type: str, inputs: Sequence[str], outputs: Sequence[str], attributes: Sequence[bytes] = ()) -> bytes:
    """A ``NodeProto``; its name is its first output."""
    return (
        b"".join(_str_field(1, i) for i in inputs)
        + b"".join(_str_field(2, o) for o in outputs)
        + _str_field(3, outputs[0])
        + _str_field(4, op_type)
        + b"".join(_bytes_field(5, a) for a in attributes)
    )


def value_info(name: str, dims: Sequence[int | str]) -> bytes:
    """A float tensor ``ValueInfoProto``; a ``str`` dim is symbolic (e.g. the batch)."""
    shape = b"".join(_bytes_field(1, _str_field(2, d) if isinstance(d, str) else _int_field(1, d)) for d in dims)
    tensor_type = _int_field(1, _FLOAT) + _bytes_field(2, shape)
    return _str_field(1, name) + _bytes_field(2, _bytes_field(1, tensor_type))


def model(
    nodes: Sequence[bytes],
    initializers: Sequence[bytes],
    inputs: Sequence[bytes],
    outputs: Sequence[bytes],
    *,
    name: str,
) -> bytes:
    """Serialize a ``ModelProto`` (default ONNX domain, opset 13)."""
    graph = (
        b"".join(_bytes_field(1, n) for n in nodes)
        + _str_field(2, name)
        + b"".join(_bytes_field(5, t) for t in initializers)
        + b"".join(_bytes_field(11, v) for v in inputs)
        + b"".join(_bytes_field(12, v) for v in outputs)
    )
    opset = _str_field(1, "") + _int_field(2, OPSET)
    return _int_field(1, IR_VERSION) + _str_field(2, "commandcenter") + _bytes_field(7, graph) + _bytes_field(8, opset)
