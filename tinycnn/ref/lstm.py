"""UNIDIRECTIONAL_SEQUENCE_LSTM, the converter's integer LSTM: int8 input, weights and hidden
state, int16 cell state, int32 biases (TFLite's "8x8_16" kernel), without CIFG, peepholes,
projection or layer normalization (a Keras LSTM has none of them).

Per time step, for each gate G of input, forget, cell and output:

    pre[G] = sat16(MBQM(b[G] + W[G] (x - zp_x), m_x[G]) + MBQM(R[G] (h - zp_h), m_h[G]))

a Q3.12 value, the multipliers being ``s_W s_x / 2^-12`` and ``s_R s_h / 2^-12``. Then, in Q0.15,
``f, i, o = sigmoid(pre)``, ``g = tanh(pre[cell])``; the cell state, at a power-of-two scale
``2^p``, becomes ``c = clip(sat16(f c + i g))``; and ``h = sat8(MBQM(tanh(c) o) + zp_h)``.

LiteRT and TFLite Micro compute this differently in six places, and each convention follows
its interpreter bit for bit (``tests/test_ref_lstm.py``):

| step | ``"tflm"`` (TFLite Micro) | ``"tflite"`` (LiteRT) |
|---|---|---|
| gate multipliers | scale product in double | scale product rounded to float32 |
| sigmoid, tanh | 256-sample table, interpolated | gemmlowp fixed point |
| recurrent product | saturated to int16 before the add | added unsaturated, the sum saturated |
| ``f c`` and ``i g`` | requantized (double rounding), saturated | one rounding shift, wrapped |
| hidden multiplier | ``2^-30 / s_h`` in double | the same in float32, scale and zero point of the fifth intermediate |
| cell tanh when ``15 + p`` is outside 0..6 | computed | skipped: the input gate is used (a LiteRT bug, kept) |

Every inference starts from ``h = zp_h`` and ``c = 0``, as both interpreters' reset does; the
batch dimension holds independent sequences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tinycnn.ref.activations16 import (
    GATE_INTEGER_BITS,
    sigmoid_q15,
    table_input_scaling,
    tanh_q15,
)
from tinycnn.ref.c_params import ConstArray, fc_layout_bytes, fc_weight_array
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition
from tinycnn.ref.fixedpoint import quantize_multiplier, requantize, rounding_divide_by_pot
from tinycnn.ref.gemmlowp import wrap

GATES = ("input", "forget", "cell", "output")
INPUT_WEIGHTS = dict(zip(GATES, (1, 2, 3, 4), strict=True))
RECURRENT_WEIGHTS = dict(zip(GATES, (5, 6, 7, 8), strict=True))
BIASES = dict(zip(GATES, (12, 13, 14, 15), strict=True))
ABSENT = {
    "peephole": (9, 10, 11),
    "projection": (16, 17),
    "layer normalization": (20, 21, 22, 23),
}
HIDDEN_STATE, CELL_STATE = 18, 19
HIDDEN_SCALE_INTERMEDIATE = 4  # LiteRT takes the hidden state's scale and zero point here
GATE_SCALE = 2.0 ** -(15 - GATE_INTEGER_BITS)  # Q3.12: 2^-12
Q15 = 2.0**-15
INT16_MIN, INT16_MAX = -32768, 32767


@dataclass(frozen=True)
class LstmParams:
    convention: str
    rounding: str
    input_zero_point: int
    hidden_zero_point: int  # of the hidden state the recurrent weights read
    input_multipliers: dict  # gate -> (multiplier, shift): input part -> Q3.12
    recurrent_multipliers: dict  # gate -> (multiplier, shift): recurrent part -> Q3.12
    cell_exponent: int  # p: the cell state's scale is 2^p
    cell_clip: int  # quantized |c| bound; 0 when the model does not clip
    output_multiplier: tuple[int, int]  # tanh(c) * o (Q0.30) -> the hidden state's scale
    output_zero_point: int


def _gate_multiplier(weight_scale: float, activation_scale: float, convention: str):
    """``s_W s / 2^-12`` as (multiplier, shift): LiteRT rounds the scale product to float32
    first, TFLite Micro multiplies in double. The two differ in the multiplier's last bits,
    which moves a result that lies within about 1e-7 of a rounding boundary (6 of the 10,000
    test images through lstm_rows with 80 units)."""
    if convention == "tflm":
        product = float(np.float32(weight_scale)) * float(np.float32(activation_scale))
    else:
        product = float(np.float32(weight_scale) * np.float32(activation_scale))
    return quantize_multiplier(product / GATE_SCALE)


def _cell_exponent(ctx: OpContext, scale: float) -> int:
    """p with scale = 2^p: TFLite's CheckedLog2 in float32, refused unless a power of two."""
    exact = float(np.float32(math.log(np.float32(scale))) * np.float32(1.0 / math.log(2.0)))
    exponent = round(exact)
    if abs(exact - exponent) >= 1e-3:
        raise ctx.unsupported(f"the cell state's scale {scale} is not a power of two")
    return exponent


def _check(ctx: OpContext) -> None:
    for part, positions in ABSENT.items():
        if any(ctx.has_input(position) for position in positions):
            raise ctx.unsupported(f"an LSTM with {part} is not implemented")
    missing = [
        p for p in (*INPUT_WEIGHTS.values(), *RECURRENT_WEIGHTS.values()) if not ctx.has_input(p)
    ]
    if missing:
        raise ctx.unsupported("an LSTM without input gate weights (CIFG) is not implemented")
    if ctx.option("time_major", False):
        raise ctx.unsupported("a time-major LSTM input is not implemented (batch first only)")
    if ctx.option("fused_activation_function", "TANH") != "TANH":
        raise ctx.unsupported("only the TANH cell activation is implemented")
    ctx.require_dtype(ctx.input_tensor(0), np.int8)
    ctx.require_dtype(ctx.output_tensor(), np.int8)
    ctx.require_dtype(ctx.input_tensor(HIDDEN_STATE), np.int8)
    ctx.require_dtype(ctx.input_tensor(CELL_STATE), np.int16)
    for gate in GATES:
        for position in (INPUT_WEIGHTS[gate], RECURRENT_WEIGHTS[gate]):
            weights = ctx.input_tensor(position)
            ctx.require_dtype(weights, np.int8)
            quant = ctx.quantization(weights)
            if quant.per_channel or quant.single_zero_point != 0:
                raise ctx.unsupported("LSTM weights must be int8 per tensor with zero point 0")
        ctx.require_dtype(ctx.input_tensor(BIASES[gate]), np.int32)


def lstm_params(ctx: OpContext) -> LstmParams:
    """Everything the kernel derives from the model before the first step."""
    _check(ctx)
    input_q = ctx.quantization(ctx.input_tensor(0))
    hidden_q = ctx.quantization(ctx.input_tensor(HIDDEN_STATE))
    cell_exponent = _cell_exponent(ctx, ctx.quantization(ctx.input_tensor(CELL_STATE)).single_scale)
    input_multipliers, recurrent_multipliers = {}, {}
    for gate in GATES:
        w_in = ctx.quantization(ctx.input_tensor(INPUT_WEIGHTS[gate])).single_scale
        w_rec = ctx.quantization(ctx.input_tensor(RECURRENT_WEIGHTS[gate])).single_scale
        input_multipliers[gate] = _gate_multiplier(w_in, input_q.single_scale, ctx.convention)
        recurrent_multipliers[gate] = _gate_multiplier(w_rec, hidden_q.single_scale, ctx.convention)
    clip = float(ctx.option("cell_clip", 0.0) or 0.0)
    cell_clip = 0
    if clip > 0:  # clip / 2^p, truncated, within int16
        cell_clip = int(min(max(clip / 2.0**cell_exponent, INT16_MIN), INT16_MAX))
    if ctx.convention == "tflm":
        output_scale, output_zero_point = hidden_q.single_scale, hidden_q.single_zero_point
        output_multiplier = quantize_multiplier(Q15 * Q15 / float(np.float32(output_scale)))
    else:
        carrier = hidden_q
        if len(ctx.op.intermediates) > HIDDEN_SCALE_INTERMEDIATE:
            intermediate = ctx.model.tensors[ctx.op.intermediates[HIDDEN_SCALE_INTERMEDIATE]]
            carrier = intermediate.quantization or hidden_q
        output_zero_point = carrier.single_zero_point
        stored = np.float32(Q15 / float(np.float32(carrier.single_scale)) * Q15)  # kept in a float
        output_multiplier = quantize_multiplier(float(stored))
    return LstmParams(
        convention=ctx.convention,
        rounding=ctx.rounding(),
        input_zero_point=input_q.single_zero_point,
        hidden_zero_point=hidden_q.single_zero_point,
        input_multipliers=input_multipliers,
        recurrent_multipliers=recurrent_multipliers,
        cell_exponent=cell_exponent,
        cell_clip=cell_clip,
        output_multiplier=output_multiplier,
        output_zero_point=output_zero_point,
    )


def _saturate16(values: np.ndarray) -> np.ndarray:
    return np.clip(values, INT16_MIN, INT16_MAX)


def _cell_products(params: LstmParams, f, c, i, g) -> tuple[np.ndarray, np.ndarray]:
    """``f c`` (Q0.15 times 2^p, back to 2^p) and ``i g`` (two Q0.15, to 2^p)."""
    p = params.cell_exponent
    if params.convention == "tflm":
        forget_part = requantize(f * c, *quantize_multiplier(Q15), params.rounding)
        input_part = requantize(i * g, *quantize_multiplier(Q15 * Q15 / 2.0**p), params.rounding)
        return _saturate16(forget_part), _saturate16(input_part)
    return wrap(rounding_divide_by_pot(f * c, 15), 16), wrap(
        rounding_divide_by_pot(i * g, 30 + p), 16
    )


def lstm_step(params: LstmParams, gate_inputs: dict, h, c, recurrent_weights: dict):
    """One time step for a batch: ``gate_inputs[G]`` is gate G's input part, already in Q3.12
    and saturated; returns the new (h int8, c int16) as int64 arrays."""
    pre = {}
    centred_h = h - params.hidden_zero_point
    for gate in GATES:
        accumulator = centred_h @ recurrent_weights[gate].T
        recurrent = requantize(accumulator, *params.recurrent_multipliers[gate], params.rounding)
        if params.convention == "tflm":
            recurrent = _saturate16(recurrent)
        pre[gate] = _saturate16(gate_inputs[gate] + recurrent)
    convention = params.convention
    f = sigmoid_q15(pre["forget"], convention)
    i = sigmoid_q15(pre["input"], convention)
    g = tanh_q15(pre["cell"], GATE_INTEGER_BITS, convention)
    forget_part, input_part = _cell_products(params, f, c, i, g)
    c = _saturate16(forget_part + input_part)
    if params.cell_clip > 0:
        c = np.clip(c, -params.cell_clip, params.cell_clip)
    o = sigmoid_q15(pre["output"], convention)
    cell_bits = 15 + params.cell_exponent
    if convention == "tflite" and not 0 <= cell_bits <= 6:
        squashed = i  # LiteRT's ApplyTanh returns without writing: its buffer holds i
    else:
        squashed = tanh_q15(c, cell_bits, convention)
    h = requantize(squashed * o, *params.output_multiplier, params.rounding)
    return np.clip(h + params.output_zero_point, -128, 127), c


def lstm(ctx: OpContext) -> np.ndarray:
    params = lstm_params(ctx)
    x = ctx.input(0).astype(np.int64)  # [N, T, input]
    if x.ndim != 3:
        raise ctx.unsupported(
            f"the LSTM input must be [batch, time, features], got {list(x.shape)}"
        )
    batch, steps, _ = x.shape
    units = ctx.input_tensor(CELL_STATE).shape[-1]
    weights = {g: ctx.input(INPUT_WEIGHTS[g]).astype(np.int64) for g in GATES}
    recurrent_weights = {g: ctx.input(RECURRENT_WEIGHTS[g]).astype(np.int64) for g in GATES}
    biases = {g: ctx.input(BIASES[g]).astype(np.int64) for g in GATES}
    # The input part of every step does not depend on the state: all steps at once.
    centred_x = x - params.input_zero_point
    gate_inputs = {
        g: _saturate16(
            requantize(
                centred_x @ weights[g].T + biases[g], *params.input_multipliers[g], params.rounding
            )
        )
        for g in GATES
    }
    h = np.full((batch, units), params.hidden_zero_point, np.int64)
    c = np.zeros((batch, units), np.int64)
    output = np.empty((batch, steps, units), np.int8)
    for t in range(steps):
        h, c = lstm_step(params, {g: gate_inputs[g][:, t] for g in GATES}, h, c, recurrent_weights)
        output[:, t] = h
    return output


def lower_lstm(ctx: OpContext):
    """firmware/tc_lstm_s8.c in the convention's arithmetic. Zero points fold into the
    biases: ``b - zp_x sum(W row)`` and ``-zp_h sum(R row)``."""
    params = lstm_params(ctx)
    input_t = ctx.input_tensor(0)
    if len(input_t.shape) != 3 or input_t.shape[0] != 1:
        raise ctx.unsupported("the C LSTM takes one sequence [1, time, features]")
    _, steps, input_size = input_t.shape
    units = ctx.input_tensor(CELL_STATE).shape[-1]
    arrays, tanh_multiplier, tanh_shift = [], *table_input_scaling(15 + params.cell_exponent)
    for kind, positions, zero_point in (
        ("input", INPUT_WEIGHTS, params.input_zero_point),
        ("recurrent", RECURRENT_WEIGHTS, params.hidden_zero_point),
    ):
        for gate in GATES:
            weights = ctx.input(positions[gate]).astype(np.int64)
            bias = ctx.input(BIASES[gate]).astype(np.int64) if kind == "input" else 0
            folded = wrap(bias - zero_point * weights.sum(axis=1), 32)
            # the FULLY_CONNECTED kernel's sums take them, in its layout
            arrays.append(fc_weight_array(ctx, weights, f"{kind}_{gate}_weights"))
            arrays.append(ConstArray(f"{kind}_{gate}_bias", "int32_t", folded.tolist()))
    forget = quantize_multiplier(Q15)
    input_cell = quantize_multiplier(Q15 * Q15 / 2.0**params.cell_exponent)
    lowered = {
        "steps": steps,
        "input_size": input_size,
        "units": units,
        "input_multiplier": [params.input_multipliers[g][0] for g in GATES],
        "input_shift": [params.input_multipliers[g][1] for g in GATES],
        "recurrent_multiplier": [params.recurrent_multipliers[g][0] for g in GATES],
        "recurrent_shift": [params.recurrent_multipliers[g][1] for g in GATES],
        "forget_multiplier": forget[0],
        "forget_shift": forget[1],
        "input_cell_multiplier": input_cell[0],
        "input_cell_shift": input_cell[1],
        "cell_clip": params.cell_clip,
        "tanh_multiplier": tanh_multiplier,
        "tanh_shift": tanh_shift,
        "output_multiplier": params.output_multiplier[0],
        "output_shift": params.output_multiplier[1],
        "output_zero_point": params.output_zero_point,
        "hidden_zero_point": params.hidden_zero_point,
        "cell_exponent": params.cell_exponent,
        "litert": int(ctx.convention == "tflite"),
        "wide_weights": int(ctx.wide_weights),
        "gates": list(GATES),
    }
    return lowered, {}, arrays


def lstm_scratch_bytes(ctx: OpContext) -> int:
    """The four gates' int16 pre-activations of one step, then one gate's int32 input and
    recurrent sums for every unit."""
    units = int(ctx.input_tensor(CELL_STATE).shape[-1])
    return 4 * 2 * units + 2 * 4 * units


OP = OpDefinition(
    name="lstm",
    builtins=("UNIDIRECTIONAL_SEQUENCE_LSTM",),
    kernel=lstm,
    lower=lower_lstm,
    c_sources=("tc_lstm_s8.c", "tc_activations16.c", "tc_fully_connected_s8.c", "tc_fixedpoint.c"),
    scratch_bytes=lstm_scratch_bytes,
    tflm_resolver={"UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM"},
    # four gates, each input and recurrent weights once per time step
    macs=lambda ctx: int(
        np.prod(ctx.input_tensor(0).shape[:2])
        * sum(
            ctx.input_tensor(INPUT_WEIGHTS[g]).data.size
            + ctx.input_tensor(RECURRENT_WEIGHTS[g]).data.size
            for g in GATES
        )
    ),
    weighted=True,
    # the eight matrices in the FULLY_CONNECTED layout
    widened_bytes=lambda ctx: sum(
        fc_layout_bytes(ctx.input_tensor(positions[g]).shape)
        for positions in (INPUT_WEIGHTS, RECURRENT_WEIGHTS)
        for g in GATES
    ),
)
