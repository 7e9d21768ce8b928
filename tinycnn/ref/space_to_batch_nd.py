"""SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND: how the converter expresses a dilated
convolution (pad, fold the spatial grid into the batch, convolve, unfold, crop).

No arithmetic: values move. Padding uses the output zero point (a real 0). Batch index
``(offset_y * block_w + offset_x) * batch + b`` holds the cells at that block offset.
"""

from __future__ import annotations

import numpy as np

from tinycnn.ref.context import OpContext


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
