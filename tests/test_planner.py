"""The static memory planner: no two live tensors share bytes, and the plan is tight."""

import pytest
from conftest import SHARED_MODELS

from tinycnn.codegen.planner import ALIGNMENT, plan_memory
from tinycnn.rundir import INT8_MODEL_FILE
from tinycnn.tflite_io import read_model


def _models(seed_cnn_run):
    yield read_model(seed_cnn_run / INT8_MODEL_FILE)
    for name in ("micro_speech_quantized.tflite", "person_detect.tflite"):
        if (SHARED_MODELS / name).is_file():
            yield read_model(SHARED_MODELS / name)


def test_live_buffers_never_overlap(seed_cnn_run):
    for model in _models(seed_cnn_run):
        plan = plan_memory(model)
        for i, a in enumerate(plan.buffers):
            assert a.offset % ALIGNMENT == 0
            assert a.offset + a.size_bytes <= plan.arena_bytes
            for b in plan.buffers[i + 1 :]:
                alive_together = a.first_step <= b.last_step and b.first_step <= a.last_step
                disjoint = (
                    a.offset + a.size_bytes <= b.offset or b.offset + b.size_bytes <= a.offset
                )
                assert not alive_together or disjoint, (model.name, a, b)
        assert plan.lower_bound_bytes <= plan.arena_bytes


def test_seed_cnn_plan_reaches_the_lower_bound(seed_cnn_run):
    plan = plan_memory(read_model(seed_cnn_run / INT8_MODEL_FILE))
    # pool1 reads conv1's output (26*26*32) while writing its own (13*13*32): the bound.
    assert plan.lower_bound_bytes == 26 * 26 * 32 + 13 * 13 * 32
    assert plan.arena_bytes == 27_040  # the same bound, rounded to 16-byte alignment


def test_reshape_aliases_its_input(seed_cnn_run):
    model = read_model(seed_cnn_run / INT8_MODEL_FILE)
    reshape = next(op for op in model.operators if op.opcode == "RESHAPE")
    plan = plan_memory(model)
    assert plan.offset_of(reshape.inputs[0]) == plan.offset_of(reshape.outputs[0])


@pytest.mark.parametrize(
    "name, arena", [("micro_speech_quantized.tflite", 5968), ("person_detect.tflite", 55296)]
)
def test_shared_model_arenas(name, arena):
    if not (SHARED_MODELS / name).is_file():
        pytest.skip("shared models absent")
    assert plan_memory(read_model(SHARED_MODELS / name)).arena_bytes == arena
