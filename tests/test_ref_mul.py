"""MUL, from BatchNormalization: alone it converts to MUL and ADD; after a convolution it is
folded into the convolution's weights, the case that keeps the folding honest."""

import pytest
from op_harness import check_bit_exact, convert_case

CASES = {
    "batchnorm_alone_mul_add": lambda k, L, x: L.BatchNormalization()(x),
    "conv_batchnorm_folded": lambda k, L, x: L.BatchNormalization()(L.Conv2D(4, 3)(x)),
}


@pytest.mark.parametrize("name", CASES)
def test_mul(name):
    assert check_bit_exact(convert_case(CASES[name], (6, 6, 3))) == {
        "litert": "identical",
        "tflm": "identical",
    }
