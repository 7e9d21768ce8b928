"""Reading .tflite files into the internal representation."""

import numpy as np
import pytest
from conftest import SHARED_MODELS

from tinycnn.model.ir import ModelFormatError
from tinycnn.model.tflite_io import read_model
from tinycnn.rundir import INT8_MODEL_FILE


def test_reads_a_trained_model(seed_cnn_run):
    model = read_model(seed_cnn_run / INT8_MODEL_FILE)
    assert model.opcodes() == ["CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    conv = model.operators[0]
    assert (
        conv.options["padding"] == "VALID" and conv.options["fused_activation_function"] == "RELU"
    )
    assert conv.options["stride_h"] == 1 and conv.options["dilation_wfactor"] == 1
    weights = model.tensors[conv.inputs[1]]
    assert weights.dtype == np.int8 and weights.shape == (32, 3, 3, 1) and weights.is_constant
    assert weights.quantization.per_channel and weights.quantization.scale.shape == (32,)
    assert weights.quantization.axis == 0
    pool = model.operators[1]
    assert (pool.options["filter_height"], pool.options["stride_w"]) == (2, 2)
    (inp,) = model.input_tensors()
    assert inp.shape == (1, 28, 28, 1) and inp.quantization.single_zero_point == -128
    assert len(model.sha256) == 64


def test_reads_vector_options():
    path = SHARED_MODELS / "micro_speech_quantized.tflite"
    if not path.is_file():
        pytest.skip("shared models absent")
    model = read_model(path)
    assert model.operators[0].options["new_shape"] == [-1, 49, 40, 1]
    assert model.operators[1].options["depth_multiplier"] == 8


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"", "is not a TFLite model"),
        (b"\x00" * 64, "is not a TFLite model"),
        (b"\x1c\x00\x00\x00TFL3" + b"\xff" * 40, "damaged TFLite file"),
    ],
)
def test_refuses_what_is_not_a_model(tmp_path, payload, message):
    path = tmp_path / "bad.tflite"
    path.write_bytes(payload)
    with pytest.raises(ModelFormatError, match=message):
        read_model(path)


def test_truncated_model(seed_cnn_run, tmp_path):
    content = (seed_cnn_run / INT8_MODEL_FILE).read_bytes()
    path = tmp_path / "truncated.tflite"
    path.write_bytes(content[: len(content) // 3])
    with pytest.raises(ModelFormatError):
        read_model(path)


@pytest.fixture(scope="module")
def small_conv_content() -> bytes:
    from op_harness import convert_case

    return convert_case(
        lambda k, L, x: L.Dense(4)(L.Flatten()(L.MaxPooling2D()(L.Conv2D(3, 3)(x)))), (8, 8, 1)
    )


def _mutants(content: bytes, count: int, seed: int, table_bytes: int):
    """Seeded byte mutations: half anywhere, half in the first ``table_bytes`` (the flatbuffer's
    tables and offsets, where a wrong byte breaks indices rather than weights)."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        data = bytearray(content)
        span = len(data) if index % 2 else min(table_bytes, len(data))
        for _ in range(int(rng.integers(1, 6))):
            data[int(rng.integers(0, span))] = int(rng.integers(0, 256))
        yield bytes(data)


@pytest.mark.parametrize("source", ["small_conv", "hello_world"])
def test_mutated_models_raise_only_tinycnn_errors(source, small_conv_content, tmp_path):
    """A few hundred damaged files through tflite_io and `predict` (reference engine): each is
    read and run, or refused with tinycnn's own error; nothing else escapes."""
    import time
    import warnings

    from tinycnn.engines.predict import predict_file
    from tinycnn.errors import TinycnnError

    if source == "hello_world":
        path = SHARED_MODELS / "hello_world_int8.tflite"
        if not path.is_file():
            pytest.skip("shared models not present")
        content = path.read_bytes()
    else:
        content = small_conv_content
    model_path, output = tmp_path / "m.tflite", tmp_path / "y.npy"
    ran = refused = 0
    started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # garbage weights may overflow numpy
        for mutant in _mutants(content, 300, seed=11, table_bytes=1024):
            model_path.write_bytes(mutant)
            try:
                model = read_model(model_path)
                shape = model.input_tensors()[0].shape
                inputs = tmp_path / "x.npy"
                np.save(inputs, np.zeros((2, *shape[1:]), model.input_tensors()[0].dtype))
                predict_file(model_path, [inputs], output)
                ran += 1
            except TinycnnError:
                refused += 1
    assert ran + refused == 300 and refused > 30 and ran > 30, (ran, refused)
    assert time.monotonic() - started < 240


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda m: setattr(m.subgraphs[0].operators[0], "opcodeIndex", 99), "opcode 99 outside"),
        (
            lambda m: setattr(m.subgraphs[0].operators[0], "inputs", [0, 77]),
            "tensor index 77 outside",
        ),
        (lambda m: setattr(m.subgraphs[0], "outputs", [500]), "tensor index 500 outside"),
        (lambda m: setattr(m.subgraphs[0].tensors[1], "buffer", 1000), "buffer 1000 outside"),
        (
            lambda m: setattr(m.subgraphs[0].tensors[0], "shape", [1, 1 << 20, 1 << 20, 4]),
            "more than any",
        ),
        (
            lambda m: setattr(m.subgraphs[0].tensors[0].quantization, "zeroPoint", [400]),
            r"zero point \[400\] outside int8",
        ),
    ],
    ids=["opcode", "op input", "graph output", "buffer", "huge shape", "zero point"],
)
def test_indices_and_sizes_are_checked(corrupt, message, small_conv_content):
    """Each table index a damaged file can carry is checked against its table."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema  # the schema's object API

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(small_conv_content, 0))
    corrupt(model)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    with pytest.raises(ModelFormatError, match=message):
        read_model(bytes(builder.Output()))
