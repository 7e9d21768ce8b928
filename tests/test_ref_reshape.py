"""RESHAPE and its kin: from Flatten (the Dropout after it vanishes at conversion), a Keras
Reshape in a squeeze-excitation block converted with a dynamic batch (SHAPE -> STRIDED_SLICE
-> PACK computing its shape, folded when the model is read), a Conv1D's EXPAND_DIMS, and the
dynamic shapes that cannot be folded, refused in one line."""

import numpy as np
import pytest
from op_harness import check_bit_exact, convert_case

from tinycnn.model.ir import UnsupportedOperator
from tinycnn.model.tflite_io import read_model
from tinycnn.ref.runner import check_supported, run_model


def _squeeze_excitation(k, L, x):
    c = L.Conv2D(8, 3, padding="same")(x)
    s = L.Reshape((1, 1, 8))(L.GlobalAveragePooling2D()(c))
    return L.Multiply()([c, L.Conv2D(8, 1, activation="sigmoid")(s)])


# name: (builder, the builtins folded when the model is read)
CASES = {
    "flatten_dropout": (lambda k, L, x: L.Dropout(0.5)(L.Flatten()(x)), ()),
    "squeeze_excitation_reshape": (_squeeze_excitation, ("SHAPE", "STRIDED_SLICE", "PACK")),
    "conv1d_expand_dims": (
        lambda k, L, x: L.Conv1D(3, 2)(L.Reshape((36, 3))(x)),
        ("SHAPE", "STRIDED_SLICE", "PACK"),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_reshape(name):
    build, folded = CASES[name]
    content = convert_case(build, (6, 6, 3))
    model = read_model(content)
    assert model.folded == folded
    assert not set(folded) & set(model.opcodes())
    assert check_bit_exact(content) == {"litert": "identical", "tflm": "identical"}


def test_the_file_keeps_the_folded_ops():
    """Folding changes the model read, not the file: TFLite Micro still runs SHAPE and PACK."""
    import tflite

    content = convert_case(CASES["squeeze_excitation_reshape"][0], (6, 6, 3))
    graph = tflite.Model.GetRootAsModel(content, 0)
    builtins = {graph.OperatorCodes(i).BuiltinCode() for i in range(graph.OperatorCodesLength())}
    assert {tflite.BuiltinOperator.SHAPE, tflite.BuiltinOperator.PACK} <= builtins


def test_dynamic_shapes_that_do_not_fold_are_refused_in_one_line():
    """Reshape((9, -1)) with a dynamic batch: the file declares [1, 9, 1] for a [1, 9, 16]
    output; running the declared shape would be a silent wrong answer."""
    content = convert_case(
        lambda k, L, x: L.Dense(4)(L.Reshape((9, -1))(L.Conv2D(4, 1)(x))), (6, 6, 3)
    )
    model = read_model(content)
    check_supported(model)
    inputs = np.zeros((1, 6, 6, 3), np.int8)
    with pytest.raises(UnsupportedOperator, match=r"declared \[1, 9, 1\] but its shape input"):
        run_model(model, inputs)
