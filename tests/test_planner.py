"""The static memory planner: no two live tensors share bytes, and the plan is tight."""

import numpy as np
import pytest
from conftest import SHARED_MODELS

from tinycnn.codegen.planner import ALIGNMENT, plan_memory
from tinycnn.model.tflite_io import read_model
from tinycnn.rundir import INT8_MODEL_FILE


def _models(seed_cnn_run):
    yield read_model(seed_cnn_run / INT8_MODEL_FILE)
    for name in ("micro_speech_quantized.tflite", "person_detect.tflite"):
        if (SHARED_MODELS / name).is_file():
            yield read_model(SHARED_MODELS / name)


def separable_block(keras, layers, x):
    """Depthwise-separable layers and a residual ADD: every operator the planner may run in
    place (tests/test_codegen.py runs it bit-exact)."""
    y = layers.ReLU(6.0)(layers.DepthwiseConv2D(3, padding="same")(x))
    y = layers.ReLU(6.0)(layers.Conv2D(16, 1)(y))
    y = layers.DepthwiseConv2D(3, strides=2, padding="same")(y)
    y = layers.Conv2D(8, 1)(y)
    return layers.Add()([y, layers.Conv2D(8, 1)(layers.ReLU()(y))])


def _separable_model():
    from op_harness import convert_case

    return read_model(convert_case(separable_block, (12, 12, 8)))


def test_in_place_operators_share_their_input_bytes():
    """The 1x1 convolutions, depthwise convolutions and the ADD may overwrite inputs that die
    there: the plan is below what disjoint buffers need, and an output that overlaps its input
    starts at least the pair's distance before it."""
    model = _separable_model()
    plan = plan_memory(model)
    kinds = {model.operators[plan.buffers[out].first_step].opcode for out, _, _ in plan.in_place}
    assert kinds == {"DEPTHWISE_CONV_2D", "CONV_2D", "ADD"}
    overlapping = 0
    for out, source, distance in plan.in_place:
        y, x = plan.buffers[out], plan.buffers[source]
        if y.offset + y.size_bytes > x.offset and x.offset + x.size_bytes > y.offset:
            assert y.offset <= x.offset - distance
            overlapping += 1
    assert overlapping > 0
    disjoint = max(
        sum(b.size_bytes for b in plan.buffers if b.first_step <= step <= b.last_step)
        for step in range(len(model.operators) + 1)
    )
    assert plan.lower_bound_bytes <= plan.arena_bytes < disjoint


def _in_place_ok(plan, i, j) -> bool:
    """Buffers i and j are an operator's output and an input it may overwrite, the output
    starting the pair's distance before the input or earlier."""
    for out, source, distance in plan.in_place:
        if {out, source} == {i, j}:
            return plan.buffers[out].offset <= plan.buffers[source].offset - distance
    return False


def test_live_buffers_never_overlap(seed_cnn_run):
    for model in [*_models(seed_cnn_run), _separable_model()]:
        plan = plan_memory(model)
        for i, a in enumerate(plan.buffers):
            assert a.offset % ALIGNMENT == 0
            assert a.offset + a.size_bytes <= plan.arena_bytes
            for j, b in enumerate(plan.buffers[i + 1 :], start=i + 1):
                alive_together = a.first_step <= b.last_step and b.first_step <= a.last_step
                disjoint = (
                    a.offset + a.size_bytes <= b.offset or b.offset + b.size_bytes <= a.offset
                )
                assert not alive_together or disjoint or _in_place_ok(plan, i, j), (
                    model.name,
                    a,
                    b,
                )
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
    "name, arena", [("micro_speech_quantized.tflite", 5968), ("person_detect.tflite", 38016)]
)
def test_shared_model_arenas(name, arena):
    if not (SHARED_MODELS / name).is_file():
        pytest.skip("shared models absent")
    assert plan_memory(read_model(SHARED_MODELS / name)).arena_bytes == arena


POISON_HARNESS = r"""
#include <stdio.h>
#include <string.h>
#include "model_model.h"

/* After kernel call k, every arena byte the plan says nothing alive needs is overwritten. */
static const int free_starts[] = { %(starts)s };
static const int free_ends[] = { %(ends)s };
static const int free_first[] = { %(first)s }; /* call k's ranges: free_first[k] .. free_first[k + 1] */

void tc_profile_mark(int call)
{
    int8_t *arena = (int8_t *)model_input() - %(input_offset)d;
    if (call < 0) {
        return;
    }
    for (int r = free_first[call]; r < free_first[call + 1]; ++r) {
        memset(arena + free_starts[r], 0x5A ^ (call & 0x7F), (size_t)(free_ends[r] - free_starts[r]));
    }
}

int main(int argc, char **argv)
{
    long count = argc > 1 ? strtol(argv[1], 0, 10) : 0;
    for (long i = 0; i < count; ++i) {
        if (fread(model_input(), 1, MODEL_INPUT_BYTES, stdin) != MODEL_INPUT_BYTES) return 1;
        model_invoke();
        fwrite(model_output(), 1, MODEL_OUTPUT_BYTES, stdout);
    }
    return 0;
}
"""


def _free_ranges(model, plan, calls):
    """Per kernel call, the arena byte ranges no tensor alive after it occupies."""
    step_of = {op.index: step for step, op in enumerate(model.operators)}
    ranges = []
    for call in calls:
        step = step_of[call.op.index]
        kept = sorted(
            (b.offset, b.offset + b.size_bytes)
            for b in plan.buffers
            if b.tensors and b.first_step <= step < b.last_step
        )
        free, cursor = [], 0
        for start, end in kept:
            if start > cursor:
                free.append((cursor, start))
            cursor = max(cursor, end)
        if cursor < plan.arena_bytes:
            free.append((cursor, plan.arena_bytes))
        ranges.append(free)
    return ranges


def test_poisoning_freed_bytes_between_ops_changes_nothing(seed_cnn_run, tmp_path):
    """The generated C of seed_cnn (fused and not) and person_detect with every byte the plan
    frees overwritten after each kernel call: the outputs stay bit-exact, so no kernel reads
    a tensor the plan thinks dead, nor scratch left by another op."""
    import subprocess

    from op_harness import first_mismatch, random_inputs

    from tinycnn.codegen.host import HOST_CFLAGS, compiler
    from tinycnn.codegen.render import lower_for_c, render_model
    from tinycnn.ref.runner import run_model

    models = [
        (read_model(seed_cnn_run / INT8_MODEL_FILE), True),
        (read_model(seed_cnn_run / INT8_MODEL_FILE), False),
    ]
    if (SHARED_MODELS / "person_detect.tflite").is_file():
        models.append((read_model(SHARED_MODELS / "person_detect.tflite"), True))
    for number, (model, fuse) in enumerate(models):
        work = tmp_path / f"m{number}"
        generated = render_model(model, work, prefix="model", fuse=fuse)
        runtime_model, plan, calls = lower_for_c(model, "tflm", fuse=fuse)
        ranges = _free_ranges(runtime_model, plan, calls)
        assert sum(map(len, ranges)) > 0
        firsts = np.cumsum([0] + [len(r) for r in ranges]).tolist()
        flat = [r for call in ranges for r in call]
        (work / "main.c").write_text(
            "#include <stdlib.h>\n"
            + POISON_HARNESS
            % {
                "starts": ", ".join(str(a) for a, _ in flat),
                "ends": ", ".join(str(b) for _, b in flat),
                "first": ", ".join(map(str, firsts)),
                "input_offset": plan.offset_of(runtime_model.inputs[0]),
            }
        )
        sources = [str(p) for p in generated.files if p.suffix == ".c"] + [str(work / "main.c")]
        subprocess.run(
            [compiler(), *HOST_CFLAGS, "-DTC_PROFILE", "-o", str(work / "runner"), *sources],
            check=True,
            timeout=300,
        )
        inputs = random_inputs(model, 8)
        done = subprocess.run(
            [str(work / "runner"), str(len(inputs))],
            input=inputs.tobytes(),
            capture_output=True,
            check=True,
            timeout=300,
        )
        out = model.output_tensors()[0]
        got = np.frombuffer(done.stdout, dtype=out.dtype).reshape(len(inputs), *out.shape[1:])
        reference = run_model(model, inputs, convention="tflm").outputs[0]
        assert first_mismatch(reference, got) == "identical", (model.name, fuse)
