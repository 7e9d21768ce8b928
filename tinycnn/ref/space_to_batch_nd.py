"""SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND: how the converter expresses a dilated
convolution (pad, fold the spatial grid into the batch, convolve, unfold, crop).

No arithmetic: values move. Padding uses the output zero point (a real 0). Batch index
``(offset_y * block_w + offset_x) * batch + b`` holds the cells at that block offset.
"""

from __future__ import annotations

import numpy as np

from tinycnn.ref.c_params import dims4
from tinycnn.ref.context import OpContext
from tinycnn.ref.definition import OpDefinition


def block_and_pairs(ctx: OpContext) -> tuple[tuple[int, int], np.ndarray]:
    """The (block_h, block_w) and the [[top, bottom], [left, right]] paddings or crops."""
    block = tuple(int(b) for b in np.asarray(ctx.input(1)).ravel())
    pairs = np.asarray(ctx.input(2), dtype=np.int64).reshape(-1, 2)
    if len(block) != 2 or pairs.shape != (2, 2):
        raise ctx.unsupported("only 2-D spatial blocks on [N, H, W, C] tensors are implemented")
    if np.any(pairs < 0):
        raise ctx.unsupported("negative paddings or crops are not implemented")
    return block, pairs


def space_to_batch_nd(ctx: OpContext) -> np.ndarray:
    ctx.require_dtype(ctx.input_tensor(0), np.int8)
    (block_h, block_w), paddings = block_and_pairs(ctx)
    fill = ctx.quantization(ctx.output_tensor()).single_zero_point
    x = np.pad(
        ctx.input(0), ((0, 0), tuple(paddings[0]), tuple(paddings[1]), (0, 0)), constant_values=fill
    )
    batch, height, width, channels = x.shape
    if height % block_h or width % block_w:
        raise ctx.unsupported("padded size is not a multiple of the block")
    blocks = x.reshape(batch, height // block_h, block_h, width // block_w, block_w, channels)
    return blocks.transpose(2, 4, 0, 1, 3, 5).reshape(
        block_h * block_w * batch, height // block_h, width // block_w, channels
    )


def batch_to_space_nd(ctx: OpContext) -> np.ndarray:
    ctx.require_dtype(ctx.input_tensor(0), np.int8)
    (block_h, block_w), crops = block_and_pairs(ctx)
    x = ctx.input(0)
    folded_batch, height, width, channels = x.shape
    batch = folded_batch // (block_h * block_w)
    grid = x.reshape(block_h, block_w, batch, height, width, channels).transpose(2, 3, 0, 4, 1, 5)
    full = grid.reshape(batch, height * block_h, width * block_w, channels)
    return full[
        :, crops[0, 0] : full.shape[1] - crops[0, 1], crops[1, 0] : full.shape[2] - crops[1, 1], :
    ]


def lower_space_to_batch(ctx: OpContext):
    """SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND: one parameter set for both directions."""
    input_t, output_t = ctx.input_tensor(0), ctx.output_tensor()
    ctx.require_dtype(input_t, np.int8)
    if len(input_t.shape) != 4:
        raise ctx.unsupported("the C kernel moves blocks of [N, H, W, C] tensors only")
    (block_h, block_w), pairs = block_and_pairs(ctx)
    params = {
        "block_h": block_h,
        "block_w": block_w,
        "pad_top": int(pairs[0, 0]),
        "pad_left": int(pairs[1, 0]),
        "pad_value": ctx.quantization(output_t).single_zero_point,
    }
    return params, {"input": dims4(input_t.shape), "output": dims4(output_t.shape)}, []


# The two directions share this module and one C file (tc_space_to_batch_nd_s8.c).
SPACE_TO_BATCH_OP = OpDefinition(
    name="space_to_batch_nd",
    builtins=("SPACE_TO_BATCH_ND",),
    kernel=space_to_batch_nd,
    lower=lower_space_to_batch,
    c_sources=("tc_space_to_batch_nd_s8.c",),
    tflm_resolver={"SPACE_TO_BATCH_ND": "AddSpaceToBatchNd"},
)
BATCH_TO_SPACE_OP = OpDefinition(
    name="batch_to_space_nd",
    builtins=("BATCH_TO_SPACE_ND",),
    kernel=batch_to_space_nd,
    lower=lower_space_to_batch,
    c_sources=("tc_space_to_batch_nd_s8.c",),
    tflm_resolver={"BATCH_TO_SPACE_ND": "AddBatchToSpaceNd"},
)
