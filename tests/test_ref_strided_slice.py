"""STRIDED_SLICE: slices Keras writes as ``v[...]``, converted by the real converter, the
reference engine against LiteRT and TFLite Micro; and the batch axis, which must stay whole."""

from __future__ import annotations

import pytest
from op_harness import check_bit_exact, convert_case

from tinycnn.model.ir import UnsupportedOperator
from tinycnn.model.tflite_io import read_model
from tinycnn.ref.runner import run_model

# name: (builder, input shape)
CASES = {
    "last_step_1x6x5": (lambda k, L, x: L.Lambda(lambda v: v[:, -1])(x), (6, 5)),
    "first_row_1x4x4x3": (lambda k, L, x: L.Lambda(lambda v: v[:, 0, :, :])(x), (4, 4, 3)),
    "every_second_1x9x8x2": (lambda k, L, x: L.Lambda(lambda v: v[:, ::2, 1:7:2])(x), (9, 8, 2)),
    "reversed_channels_1x3x3x4": (lambda k, L, x: L.Lambda(lambda v: v[..., ::-1])(x), (3, 3, 4)),
    "middle_1x10x6": (lambda k, L, x: L.Lambda(lambda v: v[:, 2:-3, 1:])(x), (10, 6)),
}


@pytest.mark.parametrize("name", CASES)
def test_strided_slice(name):
    build, shape = CASES[name]
    content = convert_case(build, shape)
    assert "STRIDED_SLICE" in read_model(content).opcodes()
    assert check_bit_exact(content) == {"litert": "identical", "tflm": "identical"}


def test_a_slice_of_the_batch_is_refused():
    content = convert_case(lambda k, L, x: L.Lambda(lambda v: v[1:])(x), (4, 3))
    model = read_model(content)
    if "STRIDED_SLICE" not in model.opcodes():
        pytest.skip("the converter folded the batch slice away")
    import numpy as np

    with pytest.raises(UnsupportedOperator, match="the batch axis must be taken whole"):
        run_model(model, np.zeros((2, 4, 3), np.int8))
