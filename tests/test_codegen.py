"""The generated C, compiled for this machine with -Wall -Wextra -Werror, against the
reference engine: all 10,000 test images, the TFLM repository's models, and per-op cases."""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest
from conftest import SHARED_MODELS
from op_harness import convert_case, first_mismatch, random_inputs
from test_planner import separable_block

from tinycnn.board.emulate import run_on_emulator
from tinycnn.codegen.host import run_c
from tinycnn.codegen.identifiers import IDENTIFIER, c_identifier
from tinycnn.codegen.render import render_model
from tinycnn.model.ir import UnsupportedOperator
from tinycnn.model.tflite_io import read_model
from tinycnn.quantization.affine import quantize
from tinycnn.ref.runner import run_model
from tinycnn.rundir import INT8_MODEL_FILE

pytestmark = pytest.mark.slow  # compiled C on all 10,000 test images, and QEMU


def test_seed_cnn_all_test_images_bit_exact(seed_cnn_run, dataset):
    model = read_model(seed_cnn_run / INT8_MODEL_FILE)
    quant = model.input_tensors()[0].quantization
    images = quantize(
        dataset.test_images[..., None] / 255.0, quant.single_scale, quant.single_zero_point
    )
    assert len(images) == 10_000
    for convention, count in (("tflm", 10_000), ("tflite", 1000)):
        c_outputs = run_c(model, images[:count], convention)
        reference = run_model(model, images[:count], convention=convention).outputs[0]
        mismatches = np.flatnonzero(np.any(c_outputs != reference, axis=1))
        assert mismatches.size == 0, f"{convention}: first mismatching image {mismatches[:1]}"


def test_seed_cnn_on_the_emulated_cortex_m4(seed_cnn_run, dataset):
    """The Cortex-M4 build (SXTB16/SMLAD dot products) on 100 test images, raw outputs."""
    model = read_model(seed_cnn_run / INT8_MODEL_FILE)
    quant = model.input_tensors()[0].quantization
    images = quantize(
        dataset.test_images[:100, ..., None] / 255.0, quant.single_scale, quant.single_zero_point
    )
    for convention in ("tflm", "tflite"):
        emulated = run_on_emulator(model, images, convention).outputs
        reference = run_model(model, images, convention=convention).outputs[0]
        assert first_mismatch(reference, emulated) == "identical", convention


def test_board_timer_is_right_from_the_first_inference():
    """A model of a few hundred instructions, run right after start-up: the board timer must
    not report a whole SysTick period (it once did, reading the counter before its first
    reload as a wrap)."""
    model = read_model(convert_case(lambda k, L, x: L.Dense(3)(x), (2,)))
    run = run_on_emulator(model, random_inputs(model, 3))
    assert all(0 <= us < 1000 for us in run.microseconds), run.microseconds


@pytest.mark.parametrize(
    "name, samples",
    [
        ("hello_world_int8.tflite", 256),
        ("micro_speech_quantized.tflite", 100),
        ("person_detect.tflite", 5),
    ],
)
def test_shared_models_bit_exact(name, samples):
    path = SHARED_MODELS / name
    if not path.is_file():
        pytest.skip(f"{path} absent")
    model = read_model(path)
    inputs = random_inputs(model, samples)
    for convention in ("tflm", "tflite"):
        reference = run_model(model, inputs, convention=convention).outputs[0]
        assert first_mismatch(reference, run_c(model, inputs, convention)) == "identical"
        emulated = run_on_emulator(model, inputs[:20], convention).outputs
        assert first_mismatch(reference[:20], emulated) == "identical"


def _hard_swish(keras, v):
    return v * keras.activations.relu(v + 3.0, max_value=6.0) / 6.0


class Case(NamedTuple):
    build: Callable  # (keras, layers, input) -> output
    shape: tuple[int, ...]  # input shape without the batch
    ops: tuple[str, ...]  # operators the converted model must contain
    calibration_range: float = 2.0
    int8_io: bool = True  # False: float input and output (QUANTIZE, DEQUANTIZE at the edges)
    # stream every CONV_2D + DEPTHWISE_CONV_2D pair, even where the arena would not shrink
    stream_every_pair: bool = False


def _stream_every_pair(case: Case, monkeypatch) -> None:
    """Make tinycnn/codegen/fusion.py see a smaller arena the more pairs it streams, so that it
    streams every pair it may: the kernel is then tested on shapes the arena rule would skip."""
    if case.stream_every_pair:
        from tinycnn.codegen import fusion

        def fewer_when_streamed(model) -> int:
            return -sum(fusion.FUSED_DEPTHWISE in op.options for op in model.operators)

        monkeypatch.setattr(fusion, "_arena", fewer_when_streamed)


CASES = {
    "strided_slice_1x5x4x3_last_row": Case(  # what x[:, -1] of an LSTM sequence becomes
        lambda k, L, x: L.Lambda(lambda v: v[:, -1])(L.Conv2D(3, 1)(x)),
        (5, 4, 3),
        ("STRIDED_SLICE",),
    ),
    "strided_slice_1x9x8x4_steps_reversed": Case(
        lambda k, L, x: L.Lambda(lambda v: v[:, 1:8:3, ::-1, 1:])(L.Conv2D(4, 1)(x)),
        (9, 8, 4),
        ("STRIDED_SLICE",),
    ),
    "conv_1x9x9x3_k3_s2_same_relu6": Case(
        lambda k, L, x: L.Conv2D(5, 3, strides=2, padding="same", activation="relu6")(x),
        (9, 9, 3),
        ("CONV_2D",),
    ),
    "conv_1x8x7x2_k2x3_valid_nobias": Case(
        lambda k, L, x: L.Conv2D(4, (2, 3), use_bias=False)(x), (8, 7, 2), ("CONV_2D",)
    ),
    "conv_1x11x11x1_k3_d2_same": Case(
        lambda k, L, x: L.Conv2D(4, 3, padding="same", dilation_rate=2)(x),
        (11, 11, 1),
        ("SPACE_TO_BATCH_ND", "CONV_2D", "BATCH_TO_SPACE_ND"),
    ),
    "conv_1x12x12x2_k3_d3_valid_relu": Case(
        lambda k, L, x: L.Conv2D(3, 3, dilation_rate=3, activation="relu")(x),
        (12, 12, 2),
        ("SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"),
    ),
    "dw_1x9x9x3_k3_s2_same_m2": Case(
        lambda k, L, x: L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)(x),
        (9, 9, 3),
        ("DEPTHWISE_CONV_2D",),
    ),
    "dw_1x8x8x6_k3_same_relu6": Case(  # four channels a step and a tail of two; border windows
        lambda k, L, x: L.DepthwiseConv2D(3, padding="same", activation="relu6")(x),
        (8, 8, 6),
        ("DEPTHWISE_CONV_2D",),
    ),
    "dw_1x9x9x1_k3_m5_same_as_conv": Case(  # one input channel: runs on the conv kernel
        lambda k, L, x: L.DepthwiseConv2D(3, padding="same", depth_multiplier=5)(x),
        (9, 9, 1),
        ("DEPTHWISE_CONV_2D",),
    ),
    "dw_1x9x9x8_k5_s2_valid_nobias": Case(
        lambda k, L, x: L.DepthwiseConv2D(5, strides=2, use_bias=False)(x),
        (9, 9, 8),
        ("DEPTHWISE_CONV_2D",),
    ),
    # depthwise rows of one or two taps written out: Kx1 temporal kernels inside and cut by
    # SAME padding, 1xK and 2x2 kernels, and 3x3 windows on grids where most are border ones
    "dw_30x1x12_k5x1_same_temporal": Case(
        lambda k, L, x: L.DepthwiseConv2D((5, 1), padding="same")(x),
        (30, 1, 12),
        ("DEPTHWISE_CONV_2D",),
    ),
    "dw_30x1x8_k15x1_same_temporal": Case(
        lambda k, L, x: L.DepthwiseConv2D((15, 1), padding="same", activation="relu")(x),
        (30, 1, 8),
        ("DEPTHWISE_CONV_2D",),
    ),
    "dw_1x20x9_k1x4_s2_same": Case(
        lambda k, L, x: L.DepthwiseConv2D((1, 4), strides=2, padding="same")(x),
        (1, 20, 9),
        ("DEPTHWISE_CONV_2D",),
    ),
    "dw_7x7x8_k2x2_same": Case(
        lambda k, L, x: L.DepthwiseConv2D(2, padding="same")(x), (7, 7, 8), ("DEPTHWISE_CONV_2D",)
    ),
    "dw_3x3x16_k3_same_small_grid": Case(
        lambda k, L, x: L.DepthwiseConv2D(3, padding="same")(x), (3, 3, 16), ("DEPTHWISE_CONV_2D",)
    ),
    "dw_6x6x12_k3_s2_same_small_grid": Case(
        lambda k, L, x: L.DepthwiseConv2D(3, strides=2, padding="same")(x),
        (6, 6, 12),
        ("DEPTHWISE_CONV_2D",),
    ),
    "dw_1x11x11x2_k3_d2_same": Case(
        lambda k, L, x: L.DepthwiseConv2D(3, padding="same", dilation_rate=2)(x),
        (11, 11, 2),
        ("SPACE_TO_BATCH_ND", "DEPTHWISE_CONV_2D"),
    ),
    # four channels a word (SSUB8/SEL) and the 1 to 3 after them; a ReLU the converter fuses
    "maxpool_2x2_depth_7_relu": Case(
        lambda k, L, x: L.ReLU()(L.MaxPooling2D(2)(x)), (6, 8, 7), ("MAX_POOL_2D",)
    ),
    "maxpool_3x3_s2_same_8ch_relu6": Case(
        lambda k, L, x: L.ReLU(6.0)(L.MaxPooling2D(3, strides=2, padding="same")(x)),
        (9, 7, 8),
        ("MAX_POOL_2D",),
        4.0,
    ),
    "maxpool_1x9x9x3_p3_s2_same": Case(
        lambda k, L, x: L.MaxPooling2D(3, strides=2, padding="same")(x), (9, 9, 3), ("MAX_POOL_2D",)
    ),
    # depthwise, 1x1 convolutions and an ADD that the planner runs in place (tests/test_planner.py)
    "separable_block_in_place": Case(separable_block, (12, 12, 8), ("DEPTHWISE_CONV_2D", "ADD")),
    # CONV_2D + MAX_POOL_2D: fused into one kernel call (tinycnn/codegen/fusion.py) ...
    "conv_relu_maxpool_fused": Case(
        lambda k, L, x: L.MaxPooling2D(2)(L.Conv2D(6, 3, activation="relu")(x)),
        (10, 10, 4),
        ("CONV_2D", "MAX_POOL_2D"),
    ),
    "conv_1ch_odd_channels_maxpool_3x3_s2": Case(
        lambda k, L, x: L.MaxPooling2D(3, strides=2)(L.Conv2D(7, 3, padding="same")(x)),
        (11, 11, 1),
        ("CONV_2D", "MAX_POOL_2D"),
    ),
    "conv_relu6_maxpool_2x1": Case(
        lambda k, L, x: L.MaxPooling2D((2, 1))(L.Conv2D(3, (1, 3), activation="relu6")(x)),
        (7, 8, 2),
        ("CONV_2D", "MAX_POOL_2D"),
    ),
    # ... and left apart: a SAME-padded pool, and a convolution whose output has two readers.
    "conv_maxpool_same_unfused": Case(
        lambda k, L, x: L.MaxPooling2D(2, padding="same")(L.Conv2D(4, 3)(x)),
        (8, 8, 2),
        ("CONV_2D", "MAX_POOL_2D"),
    ),
    "conv_maxpool_branch_unfused": Case(
        lambda k, L, x: (
            lambda c: L.Concatenate()([L.MaxPooling2D(2)(c), L.AveragePooling2D(2)(c)])
        )(L.Conv2D(4, 3)(x)),
        (8, 8, 2),
        ("CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D"),
    ),
    # CONV_2D streamed into the DEPTHWISE_CONV_2D that reads it (tinycnn/codegen/fusion.py;
    # tests/test_fusion.py checks each of these is streamed): a MobileNet stem, a 5x5 VALID
    # window over several bands, a temporal 5x1 window, depth multiplier 2 with odd channels
    # after a strided convolution, one row at a time below a 5x5 SAME convolution (the bands
    # of its first rows start in the padding), and a stride above the window (rows no window
    # reads are never made). The temporal, depth-multiplier and row-by-row cases gain no RAM:
    # they are streamed for the test alone.
    "conv_dw_streamed_stem_28x28_s2": Case(
        lambda k, L, x: L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(
            L.Conv2D(8, 3, padding="same", activation="relu")(x)
        ),
        (28, 28, 1),
        ("CONV_2D", "DEPTHWISE_CONV_2D"),
    ),
    "conv_dw_streamed_k5_valid": Case(
        lambda k, L, x: L.DepthwiseConv2D(5, activation="relu6")(L.Conv2D(6, 3)(x)),
        (15, 11, 3),
        ("CONV_2D", "DEPTHWISE_CONV_2D"),
    ),
    "conv_dw_streamed_temporal_k5x1": Case(
        lambda k, L, x: L.DepthwiseConv2D((5, 1), padding="same")(
            L.Conv2D(12, (3, 1), padding="same")(x)
        ),
        (40, 1, 4),
        ("CONV_2D", "DEPTHWISE_CONV_2D"),
        stream_every_pair=True,
    ),
    "conv_dw_streamed_dm2_odd_channels": Case(
        lambda k, L, x: L.DepthwiseConv2D((3, 2), strides=(2, 1), depth_multiplier=2)(
            L.Conv2D(3, (2, 3), padding="same", activation="relu")(x)
        ),
        (16, 9, 4),
        ("CONV_2D", "DEPTHWISE_CONV_2D"),
        stream_every_pair=True,
    ),
    "conv_dw_streamed_row_by_row_k5_same": Case(
        lambda k, L, x: L.DepthwiseConv2D(1, activation="relu")(L.Conv2D(6, 5, padding="same")(x)),
        (12, 10, 2),
        ("CONV_2D", "DEPTHWISE_CONV_2D"),
        stream_every_pair=True,
    ),
    "conv_dw_streamed_stride_above_window": Case(
        lambda k, L, x: L.DepthwiseConv2D(1, strides=3)(L.Conv2D(12, 1)(x)),
        (13, 12, 1),
        ("CONV_2D", "DEPTHWISE_CONV_2D"),
    ),
    "avgpool_1x7x7x3_p3_s2_same": Case(
        lambda k, L, x: L.AveragePooling2D(3, strides=2, padding="same")(x),
        (7, 7, 3),
        ("AVERAGE_POOL_2D",),
    ),
    # AVERAGE_POOL_2D's four-channel DSP sums: global pools of keyword spotting (25x5x64),
    # ResNet-8 (8x8x64), MobileNet (3x3x256); a 17x17 window (289 cells, past the 16-bit
    # sums: one channel at a time); depth 6 (two channels past the groups of four).
    "avgpool_global_25x5x64": Case(
        lambda k, L, x: L.AveragePooling2D((25, 5))(x), (25, 5, 64), ("AVERAGE_POOL_2D",), 2.0
    ),
    "avgpool_global_8x8x64": Case(
        lambda k, L, x: L.AveragePooling2D(8)(x), (8, 8, 64), ("AVERAGE_POOL_2D",), 2.0
    ),
    "avgpool_global_3x3x256": Case(
        lambda k, L, x: L.AveragePooling2D(3)(x), (3, 3, 256), ("AVERAGE_POOL_2D",), 2.0
    ),
    "avgpool_17x17_window_289_cells": Case(
        lambda k, L, x: L.AveragePooling2D(17)(x), (17, 17, 8), ("AVERAGE_POOL_2D",), 2.0
    ),
    "avgpool_2x2_depth_6_same": Case(
        lambda k, L, x: L.AveragePooling2D(3, strides=2, padding="same")(x),
        (9, 7, 6),
        ("AVERAGE_POOL_2D",),
    ),
    "gap_mean_1x7x7x4": Case(
        lambda k, L, x: L.GlobalAveragePooling2D()(L.Conv2D(4, 1)(x)), (7, 7, 3), ("MEAN",)
    ),
    "add_residual": Case(
        lambda k, L, x: L.Add()([L.Conv2D(3, 3, padding="same")(x), x]), (6, 6, 3), ("ADD",)
    ),
    # ADD's flat same-shape loop (residual joins), with and without a fused ReLU; a
    # broadcast ADD (batchnorm_alone below) takes the general loop.
    "add_residual_16x16x32_relu": Case(
        lambda k, L, x: L.ReLU()(L.Add()([L.Conv2D(32, 3, padding="same")(x), L.Conv2D(32, 1)(x)])),
        (16, 16, 8),
        ("ADD",),
    ),
    "add_two_inputs_of_other_scales": Case(
        lambda k, L, x: L.Add()(
            [L.Conv2D(7, 1)(x), L.Lambda(lambda v: v * 4.0)(L.Conv2D(7, 3, padding="same")(x))]
        ),
        (9, 5, 3),
        ("ADD",),
        3.0,
    ),
    "batchnorm_alone_1x6x6x3_mul_add": Case(
        lambda k, L, x: L.BatchNormalization()(x), (6, 6, 3), ("MUL", "ADD")
    ),
    "batchnorm_after_flatten_1x18": Case(
        lambda k, L, x: L.BatchNormalization()(L.Flatten()(x)), (3, 3, 2), ("RESHAPE", "MUL")
    ),
    "squeeze_excitation_reshape_folded": Case(
        lambda k, L, x: (
            lambda c: L.Multiply()(
                [c, L.Conv2D(4, 1)(L.Reshape((1, 1, 4))(L.GlobalAveragePooling2D()(c)))]
            )
        )(L.Conv2D(4, 3, padding="same")(x)),
        (6, 6, 3),
        ("MEAN", "RESHAPE", "MUL"),
    ),
    "conv1d_expand_dims": Case(
        lambda k, L, x: L.Conv1D(5, 3)(L.Reshape((12, 6))(x)), (4, 3, 6), ("EXPAND_DIMS",)
    ),
    "concatenate_channels": Case(
        lambda k, L, x: L.Concatenate()([L.Conv2D(2, 1)(x), x]), (6, 6, 3), ("CONCATENATION",)
    ),
    "concatenate_width": Case(
        lambda k, L, x: L.Concatenate(axis=2)([L.Conv2D(3, 1)(x), L.Conv2D(3, (1, 2))(x)]),
        (5, 6, 2),
        ("CONCATENATION",),
    ),
    "concatenate_sigmoid_requantized": Case(
        lambda k, L, x: L.Concatenate()([x, L.Activation("sigmoid")(x)]),
        (4, 4, 3),
        ("LOGISTIC", "QUANTIZE", "CONCATENATION"),
        3.0,
    ),
    "zero_padding": Case(
        lambda k, L, x: L.Conv2D(2, 1)(L.ZeroPadding2D(((1, 2), (0, 1)))(x)), (6, 6, 3), ("PAD",)
    ),
    "relu_standalone": Case(lambda k, L, x: L.ReLU()(x), (6, 6, 3), ("RELU",)),
    "relu6_standalone_wide_range": Case(
        lambda k, L, x: L.ReLU(max_value=6.0)(x), (6, 6, 3), ("RELU6",), 8.0
    ),
    "leaky_relu_0_2": Case(lambda k, L, x: L.LeakyReLU(0.2)(x), (6, 6, 3), ("LEAKY_RELU",), 1.0),
    "leaky_relu_0_01_after_conv": Case(
        lambda k, L, x: L.LeakyReLU(0.01)(L.Conv2D(3, 1)(x)), (6, 6, 3), ("LEAKY_RELU",), 3.0
    ),
    "sigmoid": Case(lambda k, L, x: L.Activation("sigmoid")(x), (6, 6, 3), ("LOGISTIC",), 6.0),
    "sigmoid_after_conv": Case(
        lambda k, L, x: L.Activation("sigmoid")(L.Conv2D(3, 3)(x)), (6, 6, 3), ("LOGISTIC",)
    ),
    "tanh": Case(lambda k, L, x: L.Activation("tanh")(x), (6, 6, 3), ("TANH",), 4.0),
    "tanh_after_dense": Case(
        lambda k, L, x: L.Dense(9, activation="tanh")(L.Flatten()(x)), (4, 4, 3), ("TANH",)
    ),
    "hard_swish": Case(
        lambda k, L, x: L.Lambda(lambda v: _hard_swish(k, v))(x), (6, 6, 3), ("HARD_SWISH",), 5.0
    ),
    "hard_swish_after_conv": Case(
        lambda k, L, x: L.Lambda(lambda v: _hard_swish(k, v))(L.Conv2D(5, 3)(x)),
        (6, 6, 3),
        ("HARD_SWISH",),
        1.0,
    ),
    # FULLY_CONNECTED: blocks of four units, then the last 1 to 3; depths not multiples of 4
    "fc_8_to_128_autoencoder_bottleneck": Case(
        lambda k, L, x: L.Dense(128, activation="relu")(x), (8,), ("FULLY_CONNECTED",)
    ),
    "fc_17_to_3": Case(lambda k, L, x: L.Dense(3)(x), (17,), ("FULLY_CONNECTED",)),
    "fc_6_to_1": Case(lambda k, L, x: L.Dense(1)(x), (6,), ("FULLY_CONNECTED",)),
    "fc_64_to_6_relu": Case(
        lambda k, L, x: L.Dense(6, activation="relu")(x), (64,), ("FULLY_CONNECTED",)
    ),
    # SOFTMAX keeps a row's exponentials up to 64 classes and computes them again past that
    "softmax_2_classes": Case(
        lambda k, L, x: L.Dense(2, activation="softmax")(L.Flatten()(x)), (4, 4, 3), ("SOFTMAX",)
    ),
    "softmax_12_classes_wide_logits": Case(
        lambda k, L, x: L.Softmax()(L.Dense(12)(L.Flatten()(x))), (4, 4, 3), ("SOFTMAX",), 6.0
    ),
    "softmax_100_classes_recomputed": Case(
        lambda k, L, x: L.Softmax()(L.Dense(100)(L.Flatten()(x))), (4, 4, 3), ("SOFTMAX",)
    ),
    "softmax_rows_of_70": Case(lambda k, L, x: L.Softmax()(x), (5, 70), ("SOFTMAX",), 4.0),
    "dense_softmax": Case(
        lambda k, L, x: L.Dense(7, activation="softmax")(L.Flatten()(x)), (4, 4, 3), ("SOFTMAX",)
    ),
    "float_interface_dense_relu": Case(
        lambda k, L, x: L.Dense(6, activation="relu")(L.Flatten()(x)),
        (5, 5, 2),
        ("QUANTIZE", "FULLY_CONNECTED", "DEQUANTIZE"),
        int8_io=False,
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_op_cases_bit_exact(name, monkeypatch):
    case = CASES[name]
    _stream_every_pair(case, monkeypatch)
    content = convert_case(
        case.build, case.shape, calibration_range=case.calibration_range, int8_io=case.int8_io
    )
    model = read_model(content)
    assert set(case.ops) <= set(model.opcodes()), model.opcodes()
    inputs = random_inputs(model)
    for convention in ("tflm", "tflite"):
        reference = run_model(model, inputs, convention=convention).outputs[0]
        host = run_c(model, inputs, convention)
        cortex_m4 = run_on_emulator(model, inputs[:16], convention).outputs  # int16 weights
        if {"CONV_2D", "FULLY_CONNECTED"} & set(model.opcodes()):
            wide = run_c(model, inputs, convention, wide_weights=True)
            assert first_mismatch(reference, wide) == "identical", (
                f"host, int16 weights, {convention}"
            )
        assert host.dtype == cortex_m4.dtype == reference.dtype
        assert first_mismatch(reference, host) == "identical", f"host, {convention}"
        assert first_mismatch(reference[:16], cortex_m4) == "identical", f"M4, {convention}"


# The fast paths of issue 25 on the other emulated cores: the Cortex-M7 (mps2-an500, the
# DSP build, as the Portenta H7 and the Nucleo-F746ZG run it) and the Cortex-M3 without DSP
# (mps2-an385, the portable C, as the RP2040's closest QEMU core).
OTHER_CORE_CASES = [
    "avgpool_global_25x5x64",
    "avgpool_2x2_depth_6_same",
    "add_residual_16x16x32_relu",
    "softmax_12_classes_wide_logits",
    "softmax_100_classes_recomputed",
    "dw_30x1x12_k5x1_same_temporal",
    "dw_3x3x16_k3_same_small_grid",
    "dw_1x8x8x6_k3_same_relu6",
    "fc_8_to_128_autoencoder_bottleneck",
    "fc_17_to_3",
    "conv_relu_maxpool_fused",
    "maxpool_2x2_depth_7_relu",
    "conv_dw_streamed_temporal_k5x1",
    "float_interface_dense_relu",  # float at the edges: soft-float on the FPU-less Cortex-M3
]


@pytest.mark.parametrize("board, convention", [("qemu_m7", "tflm"), ("qemu_m3", "tflite")])
@pytest.mark.parametrize("name", OTHER_CORE_CASES)
def test_op_cases_bit_exact_on_other_cores(name, board, convention, monkeypatch):
    """One convention per core (both run on the Cortex-M4 above): the M7 in the boards' own,
    the M3 in LiteRT's, whose single-rounding FULLY_CONNECTED is the other requantization."""
    case = CASES[name]
    _stream_every_pair(case, monkeypatch)
    model = read_model(
        convert_case(
            case.build, case.shape, calibration_range=case.calibration_range, int8_io=case.int8_io
        )
    )
    inputs = random_inputs(model, 8)
    reference = run_model(model, inputs, convention=convention).outputs[0]
    emulated = run_on_emulator(model, inputs, convention, board=board).outputs
    assert first_mismatch(reference, emulated) == "identical", f"{board}, {convention}"


LSTM_CASES = {
    "lstm_16_t12_last": (lambda k, L, x: L.LSTM(16)(x), (12, 7)),
    "lstm_7_units_odd_t5": (lambda k, L, x: L.LSTM(7)(x), (5, 9)),
    "lstm_stacked_10_6_dense": (
        lambda k, L, x: L.Dense(5)(L.LSTM(6)(L.LSTM(10, return_sequences=True)(x))),
        (7, 5),
    ),
}


@pytest.mark.parametrize(
    "name", [*LSTM_CASES, "tiny_cell_2^-16", "large_recurrent_weights", "trained_lstm_int8.tflite"]
)
def test_lstm_c_kernel_bit_exact(name):
    """The C LSTM in both interpreters' arithmetic, on the host (int8 and int16 weights) and
    the Cortex-M4: converted cases, the edge cases of tests/test_ref_lstm.py and TFLite Micro's
    trained model."""
    from test_ref_lstm import EDGE_CASES, set_weights_case

    if name in LSTM_CASES:
        model = read_model(convert_case(*LSTM_CASES[name]))
    elif name in EDGE_CASES:
        model = read_model(set_weights_case(**EDGE_CASES[name][0]))
    else:
        path = SHARED_MODELS / name
        if not path.is_file():
            pytest.skip(f"{path} absent")
        model = read_model(path)
    inputs = random_inputs(model, 40)
    for convention in ("tflm", "tflite"):
        reference = run_model(model, inputs, convention=convention).outputs[0]
        assert first_mismatch(reference, run_c(model, inputs, convention)) == "identical", (
            convention
        )
        wide = run_c(model, inputs, convention, wide_weights=True)  # the M4's layout, on the host
        assert first_mismatch(reference, wide) == "identical", f"int16 weights, {convention}"
        emulated = run_on_emulator(model, inputs[:6], convention).outputs
        assert first_mismatch(reference[:6], emulated) == "identical", convention


def test_unsupported_option_is_named():
    """The reference engine averages over any axes; the C kernel only over height and width."""
    model = read_model(
        convert_case(lambda k, L, x: L.Lambda(lambda v: k.backend.mean(v, axis=-1))(x), (4, 4, 2))
    )
    assert model.opcodes() == ["MEAN"]
    inputs = random_inputs(model, 2)
    run_model(model, inputs)
    with pytest.raises(UnsupportedOperator, match=r"operator #0 MEAN: the C kernel averages"):
        run_c(model, inputs)


@pytest.mark.parametrize(
    "name", ["seed_cnn", "2-bad name*/x", "int", "__reserved", "ünïcode", "a" * 100, "", "_Upper"]
)
def test_identifiers_are_valid_c(name):
    identifier = c_identifier(name)
    assert IDENTIFIER.fullmatch(identifier) and len(identifier) <= 42


def test_weird_model_and_layer_names_compile(tmp_path):
    """Layer names with slashes, dots and '>' end up in comments, the file name (with comment
    markers and spaces) in the prefix and banner: none may break the C."""

    def build(keras, layers, x):
        x = layers.Conv2D(3, 3, name="conv.1/x>y")(x)
        return layers.Dense(4, name="dense/weird-name")(layers.Flatten(name="flat-ten")(x))

    content = convert_case(build, (5, 5, 1))
    model = read_model(content, name='9 bad*/ "model" /* name\\')
    generated = render_model(model, tmp_path / "out")
    assert IDENTIFIER.fullmatch(generated.prefix)
    inputs = random_inputs(model, 8)
    assert np.array_equal(
        run_c(model, inputs), run_model(model, inputs, convention="tflm").outputs[0]
    )


def test_generated_files_carry_the_banner(seed_cnn_run, tmp_path):
    model = read_model(seed_cnn_run / INT8_MODEL_FILE)
    generated = render_model(model, tmp_path, prefix="seed")
    text = (tmp_path / "seed_model.c").read_text()
    assert text.startswith("/* Generated by tinycnn") and model.sha256 in text
    assert "Do not edit" in (tmp_path / "seed_model.h").read_text()
    assert f"static int8_t seed_arena[{generated.plan.arena_bytes}]" in text
    assert generated.weight_bytes > 30_000


def test_emulator_splits_a_large_batch_into_several_builds(monkeypatch):
    """The inputs travel in the runner's flash; a batch larger than RUNNER_INPUT_BYTES is
    run in several builds and comes back whole, in order."""
    import tinycnn.board.emulate

    model = read_model(convert_case(lambda k, L, x: L.Dense(4)(L.Flatten()(x)), (3, 3, 1)))
    monkeypatch.setattr(tinycnn.board.emulate, "RUNNER_INPUT_BYTES", 3 * 9)  # three images a build
    inputs = random_inputs(model, 7)
    run = run_on_emulator(model, inputs)
    assert len(run.microseconds) == 7
    reference = run_model(model, inputs, convention="tflm").outputs[0]
    assert first_mismatch(reference, run.outputs) == "identical"
