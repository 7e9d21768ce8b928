"""Operator fusion (tinycnn/codegen/fusion.py): which CONV_2D + MAX_POOL_2D pairs are fused and
which CONV_2D + DEPTHWISE_CONV_2D pairs streamed, and the fused C computing what the separate
operators compute. The per-op cases in test_codegen.py
run the fused kernels on the host and on the emulated Cortex-M4."""

import numpy as np
import pytest
from op_harness import convert_case, first_mismatch, random_inputs

from tinycnn.codegen.fusion import FUSED_DEPTHWISE, FUSED_MAX_POOL, fuse_operators, streamable
from tinycnn.codegen.host import run_c
from tinycnn.codegen.render import lower_for_c
from tinycnn.model.tflite_io import read_model
from tinycnn.ref.runner import run_model
from tinycnn.rundir import INT8_MODEL_FILE


def _model(build, shape):
    return read_model(convert_case(build, shape, calibration_range=2.0))


FUSED = lambda k, L, x: L.MaxPooling2D(2)(L.Conv2D(6, 3, activation="relu")(x))  # noqa: E731


@pytest.mark.parametrize(
    "build, shape, fused",
    [
        (FUSED, (10, 10, 4), True),
        (lambda k, L, x: L.MaxPooling2D(3, strides=2)(L.Conv2D(5, 3)(x)), (11, 11, 1), True),
        (lambda k, L, x: L.MaxPooling2D(2, padding="same")(L.Conv2D(4, 3)(x)), (8, 8, 2), False),
        (lambda k, L, x: L.AveragePooling2D(2)(L.Conv2D(4, 3)(x)), (8, 8, 2), False),
        (lambda k, L, x: L.MaxPooling2D(2)(L.DepthwiseConv2D(3)(x)), (8, 8, 2), False),
        (
            lambda k, L, x: (lambda c: L.Add()([L.MaxPooling2D(2)(c), L.AveragePooling2D(2)(c)]))(
                L.Conv2D(4, 3)(x)
            ),
            (8, 8, 2),
            False,
        ),
    ],
)
def test_which_pairs_are_fused(build, shape, fused):
    model = _model(build, shape)
    after = fuse_operators(model)
    merged = [op for op in after.operators if FUSED_MAX_POOL in op.options]
    assert len(merged) == (1 if fused else 0), model.opcodes()
    assert len(after.operators) == len(model.operators) - len(merged)
    if fused:
        conv, pool = (
            merged[0].options[FUSED_MAX_POOL]["conv"],
            merged[0].options[FUSED_MAX_POOL]["pool"],
        )
        assert merged[0].outputs == pool.outputs and merged[0].inputs == conv.inputs


def test_fused_and_unfused_c_agree_with_the_reference():
    model = _model(FUSED, (10, 10, 4))
    inputs = random_inputs(model, 64)
    reference = run_model(model, inputs, convention="tflm").outputs[0]
    fused = run_c(model, inputs, "tflm", fuse=True)
    unfused = run_c(model, inputs, "tflm", fuse=False)
    assert first_mismatch(reference, fused) == "identical"
    assert np.array_equal(fused, unfused)


def test_fusion_shrinks_the_plan(seed_cnn_run):
    """seed_cnn: both convolutions are fused with their pools, conv1's 26x26x32 output never
    exists, and the arena falls from the un-fused lower bound to conv2's input, its pooled
    output and its scratch."""
    model = read_model(seed_cnn_run / INT8_MODEL_FILE)
    fused_model, fused_plan, calls = lower_for_c(model, "tflm")
    _, plan, unfused_calls = lower_for_c(model, "tflm", fuse=False)
    assert [c.op.opcode for c in calls] == ["CONV_2D", "CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]
    assert len(unfused_calls) == len(calls) + 2
    assert plan.arena_bytes == 27_040
    conv2 = calls[1]
    window = 3 * 3 * 32  # conv2's taps, a multiple of 4: no int8 staging
    expected = 13 * 13 * 32 + 5 * 5 * 64 + 4 * window + 4 * 64
    assert fused_plan.lower_bound_bytes == expected
    assert conv2.params["pool_h"] == conv2.params["pool_w"] == 2
    assert fused_plan.arena_bytes < plan.arena_bytes / 3


STREAMED_CASES = [
    "conv_dw_streamed_stem_28x28_s2",
    "conv_dw_streamed_k5_valid",
    "conv_dw_streamed_temporal_k5x1",
    "conv_dw_streamed_dm2_odd_channels",
    "conv_dw_streamed_row_by_row_k5_same",
    "conv_dw_streamed_stride_above_window",
]


@pytest.mark.parametrize("name", STREAMED_CASES)
def test_streamed_pairs_shrink_the_arena(name, monkeypatch):
    """test_codegen.py's streamed cases (run there on the host and the emulated cores) are
    streamed indeed; those streamed on their merit have an arena below the unfused plan's."""
    from test_codegen import CASES, _stream_every_pair

    case = CASES[name]
    _stream_every_pair(case, monkeypatch)
    model = _model(case.build, case.shape)
    _, plan, calls = lower_for_c(model, "tflm")
    _, unfused_plan, _ = lower_for_c(model, "tflm", fuse=False)
    streamed = [c for c in calls if FUSED_DEPTHWISE in c.op.options]
    assert len(streamed) == 1 and "depthwise" in streamed[0].params
    assert "tc_conv_depthwise_s8.c" in streamed[0].c_sources
    assert case.stream_every_pair or plan.arena_bytes < unfused_plan.arena_bytes
    middle = model.tensors[streamed[0].op.options[FUSED_DEPTHWISE]["conv"].outputs[0]]
    assert middle.index not in plan.offsets  # the convolution's output is never stored


@pytest.mark.parametrize(
    "build, shape",
    [
        # the depthwise layer reads a model output, or one of two readers
        (lambda k, L, x: (lambda c: [c, L.DepthwiseConv2D(3)(c)])(L.Conv2D(4, 3)(x)), (12, 12, 1)),
        (
            lambda k, L, x: (lambda c: L.Add()([c, L.DepthwiseConv2D(3, padding="same")(c)]))(
                L.Conv2D(4, 3)(x)
            ),
            (12, 12, 1),
        ),
        # one channel: the depthwise layer runs on the convolution kernel
        (lambda k, L, x: L.DepthwiseConv2D(3)(L.Conv2D(1, 3)(x)), (12, 12, 2)),
        # the window spans every row: nothing to stream
        (lambda k, L, x: L.DepthwiseConv2D((4, 1))(L.Conv2D(4, 3)(x)), (6, 9, 1)),
        # the convolution pools: fused with its pool instead
        (
            lambda k, L, x: L.DepthwiseConv2D(3)(L.MaxPooling2D(2)(L.Conv2D(4, 3)(x))),
            (14, 14, 1),
        ),
    ],
)
def test_pairs_left_unstreamed(build, shape):
    model = _model(build, shape)
    assert not any(FUSED_DEPTHWISE in op.options for op in fuse_operators(model).operators)


def test_a_pair_that_does_not_lower_the_arena_is_not_streamed():
    """Streaming costs instructions; a pair whose convolution's output is smaller than the band
    and the rest beside it gains nothing. A stride-1 1x1 convolution is also planned in place,
    which streaming would give up."""
    build = lambda k, L, x: L.DepthwiseConv2D(3, padding="same")(L.Conv2D(8, 1)(x))  # noqa: E731
    model = _model(build, (12, 12, 16))
    readers = {i: 1 for op in model.operators for i in op.inputs}
    assert streamable(model, model.operators[0], model.operators[1], readers)
    assert not any(FUSED_DEPTHWISE in op.options for op in fuse_operators(model).operators)
