"""CONCATENATION: a convolution's output joined to its input along the channels."""

import pytest
from op_harness import check_bit_exact, convert_case

CASES = {
    "concatenate_channels": lambda k, L, x: L.Concatenate()([L.Conv2D(2, 1)(x), x]),
}


@pytest.mark.parametrize("name", CASES)
def test_concatenation(name):
    assert check_bit_exact(convert_case(CASES[name], (6, 6, 3))) == {
        "litert": "identical",
        "tflm": "identical",
    }
