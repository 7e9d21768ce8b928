"""ADD: a residual join after a convolution, and one followed by RELU."""

import pytest
from op_harness import check_bit_exact, convert_case

CASES = {
    "add_conv_residual": lambda k, L, x: L.Add()([L.Conv2D(3, 1)(x), x]),
    "add_relu": lambda k, L, x: L.ReLU()(L.Add()([L.Conv2D(3, 3, padding="same")(x), x])),
}


@pytest.mark.parametrize("name", CASES)
def test_add(name):
    assert check_bit_exact(convert_case(CASES[name], (6, 6, 3))) == {
        "litert": "identical",
        "tflm": "identical",
    }
