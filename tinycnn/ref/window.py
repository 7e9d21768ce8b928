"""Sliding-window geometry shared by convolutions and pooling (TFLite's ComputePadding)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinycnn.ref.context import OpContext


@dataclass(frozen=True)
class Window:
    filter_h: int
    filter_w: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_top: int
    pad_left: int
    out_h: int
    out_w: int

    def taps(self):
        """(filter_y, filter_x) in the reference kernels' loop order."""
        for filter_y in range(self.filter_h):
            for filter_x in range(self.filter_w):
                yield filter_y, filter_x

    def pad(self, x: np.ndarray, fill: int) -> np.ndarray:
        """Pad ``x`` [N, H, W, C] with ``fill`` so that every tap's view is in bounds."""
        _, in_h, in_w, _ = x.shape
        need_h = (self.out_h - 1) * self.stride_h + (self.filter_h - 1) * self.dilation_h + 1
        need_w = (self.out_w - 1) * self.stride_w + (self.filter_w - 1) * self.dilation_w + 1
        bottom = max(need_h - in_h - self.pad_top, 0)
        right = max(need_w - in_w - self.pad_left, 0)
        return np.pad(
            x,
            ((0, 0), (self.pad_top, bottom), (self.pad_left, right), (0, 0)),
            constant_values=fill,
        )

    def tap(self, padded: np.ndarray, filter_y: int, filter_x: int) -> np.ndarray:
        """The input cells that filter position (filter_y, filter_x) sees: [N, out_h, out_w, C]."""
        top = filter_y * self.dilation_h
        left = filter_x * self.dilation_w
        return padded[
            :,
            top : top + (self.out_h - 1) * self.stride_h + 1 : self.stride_h,
            left : left + (self.out_w - 1) * self.stride_w + 1 : self.stride_w,
            :,
        ]


def _padding_before(
    in_size: int, filter_size: int, stride: int, dilation: int, out_size: int
) -> int:
    """TFLite's ComputePadding: half the total padding (the odd cell goes after), never negative."""
    effective_filter = (filter_size - 1) * dilation + 1
    total = (out_size - 1) * stride + effective_filter - in_size
    return max(total // 2, 0)


def _output_size(padding: str, in_size: int, filter_size: int, stride: int, dilation: int) -> int:
    effective_filter = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size - effective_filter + stride) // stride


def window_for(ctx: OpContext, in_h: int, in_w: int, filter_h: int, filter_w: int) -> Window:
    """Read stride, dilation and padding options and check the output shape they imply."""
    padding = ctx.option("padding", "VALID")
    if padding not in ("SAME", "VALID"):
        raise ctx.unsupported(f"padding {padding} is not implemented")
    stride_h, stride_w = ctx.option("stride_h", 1), ctx.option("stride_w", 1)
    dilation_h, dilation_w = ctx.option("dilation_hfactor", 1), ctx.option("dilation_wfactor", 1)
    out_h = _output_size(padding, in_h, filter_h, stride_h, dilation_h)
    out_w = _output_size(padding, in_w, filter_w, stride_w, dilation_w)
    expected = ctx.output_tensor().shape[1:3]
    if (out_h, out_w) != tuple(expected):
        raise ctx.unsupported(
            f"output size {expected} does not match {padding} padding ({out_h}, {out_w})"
        )
    pad_top = (
        _padding_before(in_h, filter_h, stride_h, dilation_h, out_h) if padding == "SAME" else 0
    )
    pad_left = (
        _padding_before(in_w, filter_w, stride_w, dilation_w, out_w) if padding == "SAME" else 0
    )
    return Window(
        filter_h,
        filter_w,
        stride_h,
        stride_w,
        dilation_h,
        dilation_w,
        pad_top,
        pad_left,
        out_h,
        out_w,
    )
