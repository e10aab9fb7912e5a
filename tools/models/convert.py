"""Model conversion that runs inside the throwaway build venv (TensorFlow, tf2onnx, onnx).

Never imported by the product, nor by ``tools.models.build`` itself: the build script
runs ``<venv>/bin/python -m tools.models.jobs SPEC.json``, which uses these functions.

TFJS graph models are turned into a TensorFlow ``GraphDef``: ``modelTopology`` is the
GraphDef in protobuf-JSON form, and the Const nodes are filled from the weights
manifest (float16 and uint8/uint16-quantised groups are dequantised). tfjs-converter
fuses ops that plain TensorFlow (and tf2onnx) do not know (``_FusedConv2D``,
``FusedDepthwiseConv2dNative``, ``_FusedMatMul``); they are rewritten into plain ops
before ``tf2onnx`` converts the graph. TFLite files go through tf2onnx's tflite path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

OPSET = 17
_FP16_MIN_ELEMENTS = 16
"""Initializers smaller than this stay float32 (a Cast node costs more than it saves)."""

_DEQUANT_DTYPES = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}
_PLAIN_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}


class ConversionError(RuntimeError):
    """The conversion or its verification failed; the message says which step."""


# ---------------------------------------------------------------------------- TFJS weights


def read_tfjs_weights(model_json: Path) -> dict[str, np.ndarray]:
    """Return every weight of a TFJS graph model as a float32/int32/bool array, by name."""
    spec = json.loads(model_json.read_text())
    weights: dict[str, np.ndarray] = {}
    for group in spec["weightsManifest"]:
        blob = b"".join((model_json.parent / path).read_bytes() for path in group["paths"])
        offset = 0
        for entry in group["weights"]:
            array, used = _decode_weight(entry, blob, offset)
            weights[entry["name"]] = array
            offset += used
        if offset != len(blob):
            raise ConversionError(f"{model_json.name}: weights use {offset} bytes of {len(blob)} in {group['paths']}")
    return weights


def _decode_weight(entry: dict[str, Any], blob: bytes, offset: int) -> tuple[np.ndarray, int]:
    shape = [int(d) for d in entry["shape"]]
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    quant = entry.get("quantization")
    if quant is not None:
        stored = np.dtype(_DEQUANT_DTYPES[quant["dtype"]])
        raw = np.frombuffer(blob, dtype=stored, count=count, offset=offset)
        if quant["dtype"] == "float16":
            values = raw.astype(np.float32)
        else:
            values = (raw.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])).astype(np.float32)
        if entry["dtype"] == "int32":
            values = np.round(values).astype(np.int32)
        return values.reshape(shape), count * stored.itemsize
    if entry["dtype"] not in _PLAIN_DTYPES:
        raise ConversionError(f"weight {entry['name']}: dtype {entry['dtype']} is not supported")
    plain = np.dtype(_PLAIN_DTYPES[entry["dtype"]])
    raw = np.frombuffer(blob, dtype=plain, count=count, offset=offset)
    return raw.reshape(shape).copy(), count * plain.itemsize


# ---------------------------------------------------------------------------- GraphDef


def tfjs_graph_def(model_json: Path) -> Any:
    """Build a plain TensorFlow ``GraphDef`` from a TFJS graph model (weights filled, fused ops split)."""
    import tensorflow as tf
    from google.protobuf import json_format

    spec = json.loads(model_json.read_text())
    graph_def = json_format.ParseDict(spec["modelTopology"], tf.compat.v1.GraphDef(), ignore_unknown_fields=True)
    weights = read_tfjs_weights(model_json)
    for node in graph_def.node:
        if node.op == "Const" and node.name in weights:
            array = weights.pop(node.name)
            if node.attr["dtype"].type:  # TFJS stores int64 constants as int32: keep the graph's type
                array = array.astype(tf.dtypes.as_dtype(node.attr["dtype"].type).as_numpy_dtype)
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(array))
            node.attr["dtype"].type = tf.as_dtype(array.dtype).as_datatype_enum
    if weights:
        raise ConversionError(f"{model_json.name}: weights without a Const node: {sorted(weights)[:5]}")
    return _unfuse(graph_def)


_CONV_ATTRS = ("T", "strides", "padding", "explicit_paddings", "data_format", "dilations")
_MATMUL_ATTRS = ("T", "transpose_a", "transpose_b")
_ACTIVATIONS = {"Relu", "Relu6", "Elu", "Sigmoid", "Tanh", "Selu"}


def _unfuse(graph_def: Any) -> Any:
    import tensorflow as tf

    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.op == "_FusedConv2D":
            out.node.extend(_split_fused(node, "Conv2D", _CONV_ATTRS))
        elif node.op == "FusedDepthwiseConv2dNative":
            out.node.extend(_split_fused(node, "DepthwiseConv2dNative", _CONV_ATTRS))
        elif node.op == "_FusedMatMul":
            out.node.extend(_split_fused(node, "MatMul", _MATMUL_ATTRS))
        elif node.op.startswith(("Fused", "_Fused")):
            raise ConversionError(f"node {node.name}: fused op {node.op} has no rewrite rule")
        else:
            out.node.append(node)
    return out


def _split_fused(node: Any, base_op: str, keep: tuple[str, ...]) -> Iterator[Any]:
    """Yield the plain nodes for one fused node; the last keeps the fused node's name."""
    import tensorflow as tf

    fused = [s.decode() for s in node.attr["fused_ops"].list.s]
    data = [i for i in node.input if not i.startswith("^")]
    control = [i for i in node.input if i.startswith("^")]
    args = data[2:]
    dtype = node.attr["T"]

    steps: list[tuple[str, str, list[str], dict[str, Any]]] = []
    base_attrs = {k: node.attr[k] for k in keep if k in node.attr}
    steps.append((f"{node.name}/{base_op}", base_op, [*data[:2], *control], base_attrs))
    arg_index = 0
    for op in fused:
        previous = steps[-1][0]
        if op == "BiasAdd":
            attrs = {"T": dtype}
            if "data_format" in node.attr:
                attrs["data_format"] = node.attr["data_format"]
            steps.append((f"{node.name}/BiasAdd", "BiasAdd", [previous, args[arg_index]], attrs))
            arg_index += 1
        elif op in _ACTIVATIONS:
            steps.append((f"{node.name}/{op}", op, [previous], {"T": dtype}))
        elif op == "LeakyRelu":
            alpha = tf.compat.v1.AttrValue(f=node.attr["leakyrelu_alpha"].f)
            steps.append((f"{node.name}/LeakyRelu", "LeakyRelu", [previous], {"T": dtype, "alpha": alpha}))
        elif op == "Prelu":
            alpha = args[arg_index]
            arg_index += 1
            steps.append((f"{node.name}/prelu_pos", "Relu", [previous], {"T": dtype}))
            steps.append((f"{node.name}/prelu_negx", "Minimum", [previous, f"{node.name}/prelu_zero"], {"T": dtype}))
            steps.append((f"{node.name}/prelu_neg", "Mul", [alpha, f"{node.name}/prelu_negx"], {"T": dtype}))
            steps.append(
                (f"{node.name}/Prelu", "AddV2", [f"{node.name}/prelu_pos", f"{node.name}/prelu_neg"], {"T": dtype})
            )
            zero = tf.compat.v1.NodeDef(name=f"{node.name}/prelu_zero", op="Const")
            zero.attr["dtype"].type = dtype.type
            zero.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.float32(0.0)))
            yield zero
        else:
            raise ConversionError(f"node {node.name}: fused op {node.op} step {op} has no rewrite rule")
    if arg_index != len(args):
        raise ConversionError(f"node {node.name}: {len(args)} fused arguments, {arg_index} used ({fused})")
    last = len(steps) - 1
    for index, (name, op, inputs, attrs) in enumerate(steps):
        plain = tf.compat.v1.NodeDef(name=node.name if index == last else name, op=op)
        plain.input.extend(inputs)
        if node.device:
            plain.device = node.device
        for key, value in attrs.items():
            plain.attr[key].CopyFrom(value)
        yield plain


def run_graph_def(graph_def: Any, feeds: dict[str, np.ndarray], outputs: list[str]) -> list[np.ndarray]:
    """Run a GraphDef in TensorFlow (1 thread) and return the named outputs."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
    with tf.compat.v1.Session(graph=graph, config=config) as session:
        return list(session.run(outputs, feed_dict=feeds))


def tfjs_to_onnx(model_json: Path, inputs: list[str], outputs: list[str]) -> tuple[Any, Any]:
    """Convert a TFJS graph model; return ``(onnx ModelProto, plain GraphDef)``."""
    import tf2onnx

    graph_def = tfjs_graph_def(model_json)
    model, _ = tf2onnx.convert.from_graph_def(
        graph_def, input_names=inputs, output_names=outputs, opset=OPSET, name=model_json.stem
    )
    return model, graph_def


def tflite_model(tflite: Path) -> Any:
    """Convert a TFLite flatbuffer with tf2onnx; return the onnx ModelProto."""
    import tf2onnx

    model, _ = tf2onnx.convert.from_tflite(str(tflite), opset=OPSET, output_path=None)
    return model


# ---------------------------------------------------------------------------- ONNX rewrites


def store_float16(model: Any) -> tuple[Any, int]:
    """Store float32 initializers that are exactly float16 as float16 behind a Cast; return (model, count)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    casts = []
    kept = []
    converted = 0
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        if (
            init.data_type == TensorProto.FLOAT
            and array.size >= _FP16_MIN_ELEMENTS
            and np.array_equal(array.astype(np.float16).astype(np.float32), array)
        ):
            half_name = f"{init.name}__fp16"
            kept.append(numpy_helper.from_array(array.astype(np.float16), half_name))
            casts.append(
                helper.make_node("Cast", [half_name], [init.name], name=f"{init.name}__cast", to=TensorProto.FLOAT)
            )
            converted += 1
        else:
            kept.append(init)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    return model, converted


def set_dynamic_batch(model: Any, static_batch: int, name: str = "N") -> Any:
    """Make the batch dimension symbolic: graph inputs/outputs and the Reshape targets that fix it.

    TFLite files have a fixed batch; tf2onnx keeps it in the Reshape shape constants.
    A Reshape whose target starts with ``static_batch`` (and has no -1) gets -1 there.
    The caller verifies the result at several batch sizes against the original.
    """
    from onnx import numpy_helper

    inits = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "Reshape" or node.input[1] not in inits:
            continue
        target = numpy_helper.to_array(inits[node.input[1]])
        if target.ndim == 1 and target.size and target[0] == static_batch and -1 not in target:
            fixed = target.copy()
            fixed[0] = -1
            inits[node.input[1]].CopyFrom(numpy_helper.from_array(fixed, node.input[1]))
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = name
    return model


def rename_io(model: Any, names: dict[str, str]) -> Any:
    """Rename graph inputs/outputs (e.g. TensorFlow's ``input:0``) everywhere they are referenced."""
    graph = model.graph
    known = {v.name for v in [*graph.input, *graph.output]}
    missing = set(names) - known
    if missing:
        raise ConversionError(f"no graph input/output named {sorted(missing)} (have {sorted(known)})")
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = names.get(value.name, value.name)
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]
    return model


_GENERATED = re.compile(r"__\d+")


def _content_digest(init: Any) -> str:
    """SHA-256 of an initializer's type, shape and values (not its name)."""
    from onnx import numpy_helper

    array = numpy_helper.to_array(init)
    return hashlib.sha256(f"{init.data_type}:{list(init.dims)}:".encode() + array.tobytes()).hexdigest()


def canonical_order(model: Any) -> Any:
    """Sort the nodes topologically, breaking ties by structure rather than by tf2onnx's run-dependent names.

    The key of a ready node: its op, where its inputs come from (the position of the feeding
    node, the content digest of an initializer, or the graph input's name), its attributes,
    then its name without generated numbers. Run to run, tf2onnx numbers the tensors it makes
    and picks which of several merged equal constants or nodes keeps its name in an order that
    varies (it iterates sets of Python objects); none of that reaches the key.
    """
    import heapq

    graph = model.graph
    nodes = list(graph.node)
    digests = {init.name: _content_digest(init) for init in graph.initializer}
    producer = {out: i for i, node in enumerate(nodes) for out in node.output if out}
    consumers: dict[int, list[int]] = {i: [] for i in range(len(nodes))}
    waiting = [0] * len(nodes)
    for i, node in enumerate(nodes):
        for source in {producer[n] for n in node.input if n in producer}:
            consumers[source].append(i)
            waiting[i] += 1
    position: dict[int, int] = {}

    def origin(name: str) -> str:
        if name in producer:
            source = nodes[producer[name]]
            return f"{position[producer[name]]:08d}:{list(source.output).index(name)}"
        return digests.get(name, name)

    def key(i: int) -> tuple[Any, ...]:
        node = nodes[i]
        attrs = b"".join(a.SerializeToString() for a in node.attribute)
        return (node.op_type, tuple(origin(n) for n in node.input), attrs, _GENERATED.sub("", node.name), i)

    ready = [key(i) for i in range(len(nodes)) if waiting[i] == 0]
    heapq.heapify(ready)
    ordered: list[Any] = []
    while ready:
        index = heapq.heappop(ready)[-1]
        position[index] = len(ordered)
        ordered.append(nodes[index])
        for consumer in consumers[index]:
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                heapq.heappush(ready, key(consumer))
    if len(ordered) != len(nodes):
        raise ConversionError("the converted graph has a cycle")
    del graph.node[:]
    graph.node.extend(ordered)
    return model


def canonical_names(model: Any) -> Any:
    """Name every internal tensor, node and initializer by its position (``t12``, ``Conv_7``, ``const_3``).

    Graph inputs and outputs keep their names. Run after :func:`canonical_order`; together
    they make two conversions of the same source byte-identical. Initializers are sorted by
    first use.
    """
    graph = model.graph
    keep = {v.name for v in [*graph.input, *graph.output]}
    initializers = {init.name for init in graph.initializer}
    mapping: dict[str, str] = {}
    order: dict[str, int] = {}
    constants = tensors = 0
    for node in graph.node:
        for name in (*node.input, *node.output):
            if not name or name in keep or name in mapping:
                continue
            order[name] = len(order)
            if name in initializers:
                mapping[name] = f"const_{constants}"
                constants += 1
            else:
                mapping[name] = f"t{tensors}"
                tensors += 1
    for index, node in enumerate(graph.node):
        node.name = f"{node.op_type}_{index}"
        node.input[:] = [mapping.get(n, n) for n in node.input]
        node.output[:] = [mapping.get(n, n) for n in node.output]
    for value in graph.value_info:
        value.name = mapping.get(value.name, value.name)
    inits = sorted(graph.initializer, key=lambda init: order.get(init.name, len(order)))
    for init in inits:
        init.name = mapping.get(init.name, init.name)
    del graph.initializer[:]
    graph.initializer.extend(inits)
    return model


def name_dims(model: Any, names: dict[str, dict[int, str]]) -> Any:
    """Give graph input/output dimensions readable symbolic names (``height``, ``N``)."""
    for value in [*model.graph.input, *model.graph.output]:
        for index, name in names.get(value.name, {}).items():
            dim = value.type.tensor_type.shape.dim[index]
            dim.ClearField("dim_value")
            dim.dim_param = name
    return model


def finalize(model: Any, *, doc: str) -> bytes:
    """Check the model, stamp a stable producer and doc string; return its bytes."""
    import onnx

    model.producer_name = "tools.models (tf2onnx)"
    model.producer_version = ""
    model.doc_string = doc
    del model.metadata_props[:]
    onnx.checker.check_model(model, full_check=True)
    return bytes(model.SerializeToString())


# ---------------------------------------------------------------------------- verification


def tflite_run(path: Path, batch: np.ndarray) -> np.ndarray:
    """Run a TFLite model on a batch of any size (in chunks of its own fixed batch); return output 0."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - fallback when ai-edge-litert is absent
        from tensorflow.lite.python.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    output = interpreter.get_output_details()[0]["index"]
    native = int(detail["shape"][0])
    results = []
    for start in range(0, len(batch), native):
        chunk = batch[start : start + native]
        padded = np.concatenate([chunk, np.repeat(chunk[-1:], native - len(chunk), axis=0)])
        interpreter.set_tensor(detail["index"], padded.astype(detail["dtype"]))
        interpreter.invoke()
        results.append(np.array(interpreter.get_tensor(output))[: len(chunk)])
    return np.concatenate(results)


def sha256(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()
