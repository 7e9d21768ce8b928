"""RESHAPE, from Flatten (the Dropout after it vanishes at conversion)."""

import pytest
from op_harness import check_bit_exact, convert_case

CASES = {
    "flatten_dropout": lambda k, L, x: L.Dropout(0.5)(L.Flatten()(x)),
}


@pytest.mark.parametrize("name", CASES)
def test_reshape(name):
    assert check_bit_exact(convert_case(CASES[name], (6, 6, 3))) == {
        "litert": "identical",
        "tflm": "identical",
    }
