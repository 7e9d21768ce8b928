"""Reading ``.tflite`` flatbuffers into ``ir.Model``: the only module that knows the format.

Parsing goes through the ``tflite`` package, the flatbuffer binding generated from TFLite's
schema. Builtin options are read generically from their schema class, so every option the
converter writes reaches the kernels, which then refuse what they do not implement.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from functools import cache
from pathlib import Path

import numpy as np
import tflite

from tinycnn.model.folding import fold_shape_arithmetic
from tinycnn.model.ir import Model, ModelFormatError, Operator, Quantization, Tensor
from tinycnn.model.metadata import read_metadata

TFLITE_IDENTIFIER = b"TFL3"
MAX_TENSOR_BYTES = 1 << 30  # no tensor of a microcontroller model comes near 1 GiB

_DTYPES = {
    tflite.TensorType.FLOAT32: np.dtype(np.float32),
    tflite.TensorType.INT8: np.dtype(np.int8),
    tflite.TensorType.UINT8: np.dtype(np.uint8),
    tflite.TensorType.INT16: np.dtype(np.int16),
    tflite.TensorType.INT32: np.dtype(np.int32),
    tflite.TensorType.INT64: np.dtype(np.int64),
    tflite.TensorType.BOOL: np.dtype(np.bool_),
}


def _enum_names(enum_class) -> dict[int, str]:
    return {value: name for name, value in vars(enum_class).items() if not name.startswith("_")}


_OPCODE_NAMES = _enum_names(tflite.BuiltinOperator)
_OPTIONS_NAMES = _enum_names(tflite.BuiltinOptions)
_TYPE_NAMES = _enum_names(tflite.TensorType)
# Option fields whose integer values are schema enums, shown by name.
_OPTION_ENUMS = {
    "padding": _enum_names(tflite.Padding),
    "fused_activation_function": _enum_names(tflite.ActivationFunctionType),
}


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


@cache
def _option_getters(options_class) -> tuple[tuple[str, str], ...]:
    """(method, option name) pairs for every scalar field and vector field of a schema class."""
    getters = []
    for method, function in inspect.getmembers(options_class, inspect.isfunction):
        if method.startswith(("_", "Init", "GetRootAs")) or method.endswith(("Length", "IsNone")):
            continue
        if len(inspect.signature(function).parameters) != 1:
            continue  # vector element accessors take an index; their AsNumpy form is used
        getters.append((method, _snake_case(method.removesuffix("AsNumpy"))))
    return tuple(getters)


def _read_options(op) -> dict:
    options_type = op.BuiltinOptionsType()
    if options_type == tflite.BuiltinOptions.NONE or op.BuiltinOptions() is None:
        return {}
    class_name = _OPTIONS_NAMES.get(options_type)
    if class_name is None or not hasattr(tflite, class_name):
        return {}
    table = op.BuiltinOptions()
    options = getattr(tflite, class_name)()
    options.Init(table.Bytes, table.Pos)
    values = {}
    for method, name in _option_getters(type(options)):
        value = getattr(options, method)()
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif name in _OPTION_ENUMS:
            value = _OPTION_ENUMS[name].get(value, value)
        values[name] = value
    return values


def _read_quantization(
    tensor, shape: tuple[int, ...], dtype: np.dtype, where: str
) -> Quantization | None:
    params = tensor.Quantization()
    if params is None or params.ScaleLength() == 0:
        return None
    scale = params.ScaleAsNumpy().astype(np.float32)
    zero_point = (
        params.ZeroPointAsNumpy().astype(np.int64)
        if params.ZeroPointLength()
        else np.zeros_like(scale, dtype=np.int64)
    )
    if zero_point.size == 1 and scale.size > 1:
        zero_point = np.full(scale.shape, zero_point[0], dtype=np.int64)
    axis = int(params.QuantizedDimension())
    if zero_point.size != scale.size:
        raise ModelFormatError(f"{where}: {scale.size} scales but {zero_point.size} zero points")
    along_axis = 0 <= axis < len(shape) and shape[axis] == scale.size
    # TFLM's person_detect gives its 1-D biases the weights' quantized dimension (3).
    along_only_dimension = len(shape) == 1 and shape[0] == scale.size
    if scale.size > 1 and not (along_axis or along_only_dimension):
        raise ModelFormatError(
            f"{where}: {scale.size} per-channel scales along dimension {axis} of shape {list(shape)}"
        )
    if not np.all(np.isfinite(scale)) or np.any(scale < 0):
        raise ModelFormatError(f"{where}: quantization scale {scale[:4].tolist()} is not a scale")
    if dtype.kind in "iu":
        limits = np.iinfo(dtype)
        if np.any(zero_point < limits.min) or np.any(zero_point > limits.max):
            raise ModelFormatError(
                f"{where}: zero point {zero_point[:4].tolist()} outside {dtype.name}"
            )
    return Quantization(scale=scale, zero_point=zero_point, axis=axis)


def _buffer_data(model, content: bytes, tensor, shape, dtype, where: str) -> np.ndarray | None:
    index = tensor.Buffer()
    if not 0 <= index < model.BuffersLength():
        raise ModelFormatError(
            f"{where}: buffer {index} outside the file's {model.BuffersLength()} buffers"
        )
    buffer = model.Buffers(index)
    if buffer is None:
        return None
    if buffer.DataLength():
        raw = buffer.DataAsNumpy().tobytes()
    elif buffer.Offset() > 1:  # large models keep buffers after the flatbuffer
        if buffer.Offset() + buffer.Size() > len(content):
            raise ModelFormatError(f"{where}: buffer {index} runs past the end of the file")
        raw = content[buffer.Offset() : buffer.Offset() + buffer.Size()]
    else:
        return None
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ModelFormatError(
            f"{where}: buffer holds {len(raw)} bytes, shape {list(shape)} needs {expected}"
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def read_tflite(path: str | Path) -> bytes:
    """The bytes of a .tflite file, refusing anything that is not a TFLite flatbuffer."""
    path = Path(path)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ModelFormatError(f"{path} not found") from None
    except IsADirectoryError:
        raise ModelFormatError(f"{path} is a directory, not a .tflite file") from None
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot read ({exc.strerror})") from None
    if len(content) < 8 or content[4:8] != TFLITE_IDENTIFIER:
        raise ModelFormatError(f"{path} is not a TFLite model (no 'TFL3' flatbuffer identifier)")
    return content


def read_model(source: str | Path | bytes, name: str | None = None) -> Model:
    """Parse a .tflite file (path or bytes) into ``ir.Model``; ModelFormatError if it is not one."""
    if isinstance(source, bytes):
        content, name = source, name or "model"
    else:
        path = Path(source)
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise ModelFormatError(f"{path}: cannot read ({exc.strerror})") from None
        name = name or path.stem
    if len(content) < 8 or content[4:8] != TFLITE_IDENTIFIER:
        raise ModelFormatError(f"{name} is not a TFLite model (no 'TFL3' flatbuffer identifier)")
    try:
        return _parse(content, name)
    except ModelFormatError:
        raise
    except Exception as exc:  # a damaged flatbuffer fails anywhere inside the binding
        raise ModelFormatError(
            f"{name} is a damaged TFLite file ({type(exc).__name__}: {exc})"
        ) from None


def _indices(vector: list[int], count: int, where: str, optional: bool = False) -> tuple[int, ...]:
    """Tensor indices checked against the tensor table (-1: an omitted optional input)."""
    lowest = -1 if optional else 0
    for index in vector:
        if not lowest <= index < count:
            raise ModelFormatError(f"{where}: tensor index {index} outside the {count} tensors")
    return tuple(vector)


def _parse(content: bytes, name: str) -> Model:
    """Read every table, checking each index and size against what the file holds, so that a
    damaged file is refused here rather than failing later in a kernel; then fold the shape
    arithmetic a dynamic batch leaves (model/folding.py)."""
    model = tflite.Model.GetRootAsModel(content, 0)
    if model.SubgraphsLength() != 1:
        raise ModelFormatError(
            f"{name} has {model.SubgraphsLength()} subgraphs; only single-graph models are supported"
        )
    graph = model.Subgraphs(0)
    count = graph.TensorsLength()
    tensors = [_read_tensor(model, content, graph.Tensors(i), i, name) for i in range(count)]
    operators = [
        _read_operator(model, graph.Operators(i), i, count, name)
        for i in range(graph.OperatorsLength())
    ]
    where = f"{name} is damaged: the graph"
    graph_inputs = _indices(_vector(graph, "Inputs"), count, where)
    graph_outputs = _indices(_vector(graph, "Outputs"), count, where)
    if not graph_inputs or not graph_outputs:
        raise ModelFormatError(f"{where} has no input or no output")
    model = Model(
        name=name,
        tensors=tensors,
        operators=operators,
        inputs=graph_inputs,
        outputs=graph_outputs,
        sha256=hashlib.sha256(content).hexdigest(),
        description=(model.Description() or b"").decode("utf-8", "replace"),
        metadata=read_metadata(content),
    )
    return fold_shape_arithmetic(model)


def _vector(table, field: str) -> list[int]:
    """A flatbuffer table's int vector ``field`` (Inputs, Outputs...), empty when absent."""
    if not getattr(table, f"{field}Length")():
        return []
    return [int(i) for i in getattr(table, f"{field}AsNumpy")()]


def _read_tensor(model, content: bytes, tensor, index: int, name: str) -> Tensor:
    where = f"{name} is damaged: tensor {index}"
    if tensor.Type() not in _DTYPES:
        raise ModelFormatError(
            f"{name}: tensor {index} has type {_TYPE_NAMES.get(tensor.Type(), tensor.Type())}, "
            "which tinycnn does not handle"
        )
    dtype = _DTYPES[tensor.Type()]
    shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
    if any(d < 0 for d in shape) or len(shape) > 8:
        raise ModelFormatError(f"{where}: shape {list(shape)}")
    size_bytes = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if size_bytes > MAX_TENSOR_BYTES:
        raise ModelFormatError(
            f"{where}: shape {list(shape)} needs {size_bytes} bytes, more than any "
            f"microcontroller model ({MAX_TENSOR_BYTES} at most)"
        )
    return Tensor(
        index=index,
        name=tensor.Name().decode("utf-8", "replace"),
        shape=shape,
        dtype=dtype,
        quantization=_read_quantization(tensor, shape, dtype, where),
        data=_buffer_data(model, content, tensor, shape, dtype, where),
        is_variable=bool(tensor.IsVariable()),
    )


def _read_operator(model, op, index: int, tensor_count: int, name: str) -> Operator:
    where = f"{name} is damaged: operator {index}"
    if not 0 <= op.OpcodeIndex() < model.OperatorCodesLength():
        raise ModelFormatError(
            f"{where}: opcode {op.OpcodeIndex()} outside the {model.OperatorCodesLength()} "
            "operator codes"
        )
    if not op.OutputsLength():
        raise ModelFormatError(f"{where}: no output tensor")
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    opcode = _OPCODE_NAMES.get(builtin, f"BUILTIN_{builtin}")
    if opcode == "CUSTOM":
        opcode = f"CUSTOM:{(code.CustomCode() or b'').decode()}"
    return Operator(
        index=index,
        opcode=opcode,
        inputs=_indices(_vector(op, "Inputs"), tensor_count, where, optional=True),
        outputs=_indices(_vector(op, "Outputs"), tensor_count, where),
        options=_read_options(op),
        version=code.Version(),
        intermediates=_indices(_vector(op, "Intermediates"), tensor_count, where),
    )
