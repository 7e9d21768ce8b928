"""PAD, from ZeroPadding2D with a different padding on each side."""

import pytest
from op_harness import check_bit_exact, convert_case

CASES = {
    "zero_padding_asymmetric": lambda k, L, x: L.ZeroPadding2D(((1, 2), (0, 1)))(x),
}


@pytest.mark.parametrize("name", CASES)
def test_pad(name):
    assert check_bit_exact(convert_case(CASES[name], (6, 6, 3))) == {
        "litert": "identical",
        "tflm": "identical",
    }
