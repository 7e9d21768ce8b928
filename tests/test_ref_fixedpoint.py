"""Fixed-point helpers: worked examples at the edges (negatives, ties, large shifts)."""

import math

import numpy as np
import pytest

from tinycnn.ref.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    quantize_multiplier,
    requantize,
    rounding_divide,
    rounding_divide_by_pot,
    rounding_for,
    saturating_rounding_doubling_high_mul,
)
from tinycnn.ref.gemmlowp import (
    count_leading_zeros_u32,
    exp_on_negative_values,
    one_over_one_plus_x_for_x_in_0_1,
)


@pytest.mark.parametrize(
    "real, expected",
    [
        (0.5, (1 << 30, 0)),
        (1.0, (1 << 30, 1)),
        (0.75, (3 << 29, 0)),
        (0.1, (1717986918, -3)),  # 0.8 * 2**31 = 1717986918.4 -> rounds down
        (1 - 2.0**-33, (1 << 30, 1)),  # the fraction rounds up to 2**31 and is halved
        (1e-12, (0, 0)),  # shift below -31: every bit would be shifted out
        (0.0, (0, 0)),
    ],
)
def test_quantize_multiplier(real, expected):
    assert quantize_multiplier(real) == expected


def test_quantize_multiplier_round_trips():
    for real in np.geomspace(1e-9, 1000, 200):
        multiplier, shift = quantize_multiplier(float(real))
        assert math.isclose(multiplier * 2.0 ** (shift - 31), real, rel_tol=2**-30)


def test_srdhm_rounds_ties_up_and_saturates():
    # 3 * 2**30 / 2**31 = 1.5 -> 2; -1.5 -> -1 (the negative nudge is 1 - 2**30); -1.75 -> -2.
    assert saturating_rounding_doubling_high_mul(3, 1 << 30) == 2
    assert saturating_rounding_doubling_high_mul(-3, 1 << 30) == -1
    assert saturating_rounding_doubling_high_mul(-7, 1 << 29) == -2
    assert saturating_rounding_doubling_high_mul(4, 1 << 30) == 2
    assert saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX


@pytest.mark.parametrize(
    "x, exponent, expected",
    [
        (3, 1, 2),
        (-3, 1, -2),
        (5, 2, 1),
        (-5, 2, -1),
        (6, 2, 2),
        (-6, 2, -2),
        (-7, 0, -7),
        (INT32_MAX, 31, 1),
    ],
)
def test_rounding_divide_by_pot(x, exponent, expected):
    assert rounding_divide_by_pot(x, exponent) == expected


@pytest.mark.parametrize(
    "total, count, expected",
    [
        (7, 2, 4),
        (-7, 2, -4),
        (5, 3, 2),
        (-5, 3, -2),
        (4, 3, 1),
        (-4, 3, -1),
        (0, 9, 0),
        (-128, 1, -128),
    ],
)
def test_rounding_divide_halves_away_from_zero(total, count, expected):
    """An average pool's window mean: ties (7/2, -7/2) go away from zero, C truncation otherwise."""
    assert rounding_divide(total, count) == expected


def test_rounding_divide_refuses_an_empty_window():
    with pytest.raises(ValueError, match="count"):
        rounding_divide(np.array([1]), np.array([0]))


def test_single_and_double_rounding_differ_on_negative_ties():
    # x * 0.25 with x = -2 is -0.5: double rounding goes away from zero, single rounds up.
    assert requantize(np.array([-2]), 1 << 30, -1, "double")[0] == -1
    assert requantize(np.array([-2]), 1 << 30, -1, "single")[0] == 0
    # Positive ties agree: +0.5 -> 1 both ways.
    assert requantize(np.array([2]), 1 << 30, -1, "double")[0] == 1
    assert requantize(np.array([2]), 1 << 30, -1, "single")[0] == 1


def test_large_shifts():
    acc = np.array([INT32_MAX, INT32_MIN, 1 << 30, -(1 << 30)])
    for rounding in ("double", "single"):
        # multiplier 0.5 with shift -31 scales by 2**-32: everything rounds to 0 or +-1.
        assert requantize(acc, 1 << 30, -31, rounding).tolist() in (
            [0, 0, 0, 0],
            [0, -1, 0, 0],
            [1, -1, 0, 0],
        )
        # A left shift (factor 2**2 * 0.5 = 2) doubles exactly.
        assert requantize(np.array([1000, -1000]), 1 << 30, 2, rounding).tolist() == [2000, -2000]


def test_requantize_checks_its_ranges():
    with pytest.raises(OverflowError):
        requantize(np.array([2**31]), 1 << 30, 0, "double")
    with pytest.raises(ValueError, match="shift"):
        requantize(np.array([1]), 1 << 30, 31, "double")
    with pytest.raises(ValueError, match="rounding"):
        requantize(np.array([1]), 1 << 30, 0, "banker")


def test_rounding_conventions():
    assert rounding_for("tflm", "FULLY_CONNECTED") == "double"
    assert rounding_for("tflite", "FULLY_CONNECTED") == "single"
    assert rounding_for("tflite", "CONV_2D") == "double"


def test_gemmlowp_exp_and_reciprocal_are_accurate():
    a = -np.arange(0, 31 * 2**26, 2**22, dtype=np.int64)  # Q5.26 values in [-31, 0]
    exps = exp_on_negative_values(a, 5) / 2**31
    assert (
        np.max(np.abs(exps - np.exp(a / 2**26))) < 5e-7
    )  # gemmlowp's documented accuracy is ~1e-7; an int8 LSB is 4e-3
    x = np.arange(0, 2**31, 2**24, dtype=np.int64)
    reciprocal = one_over_one_plus_x_for_x_in_0_1(x) / 2**31
    assert np.max(np.abs(reciprocal - 1 / (1 + x / 2**31))) < 1e-8
    assert count_leading_zeros_u32(np.array([0, 1, 1 << 31, 0xFFFF])).tolist() == [32, 31, 0, 16]


REQUANTIZE_HARNESS = r"""
#include <stdio.h>
#include "tc_fixedpoint.h"
int main(void)
{
    long long x, m, s, r;
    while (scanf("%lld %lld %lld %lld", &x, &m, &s, &r) == 4) {
        printf("%ld\n", (long)tc_requantize((int32_t)x, (int32_t)m, (int32_t)s, (tc_rounding_t)r));
    }
    return 0;
}
"""


def _requantize_cases() -> np.ndarray:
    """(x, multiplier, shift, rounding) rows: every shift, extreme and random accumulators and
    multipliers, and ties built on purpose for both rounding steps."""
    rng = np.random.default_rng(7)
    rows = []
    extremes = [INT32_MIN, INT32_MIN + 1, -(1 << 30), -3, -2, -1, 0, 1, 2, 3, 1 << 30, INT32_MAX]
    multipliers = [0, 1, 1 << 30, (1 << 30) + 1, 1518500250, INT32_MAX]
    for shift in range(-31, 31):
        for rounding in (0, 1):
            for m in multipliers:
                for x in extremes:
                    rows.append((x, m, shift, rounding))
            count = 400
            xs = rng.integers(INT32_MIN, INT32_MAX, count, endpoint=True)
            small = rng.integers(-(1 << 16), 1 << 16, count)
            ms = rng.integers(1 << 30, INT32_MAX, count, endpoint=True)
            rows += [(int(x), int(m), shift, rounding) for x, m in zip(xs, ms, strict=True)]
            rows += [(int(x), int(m), shift, rounding) for x, m in zip(small, ms, strict=True)]
            if (
                shift <= 0
            ):  # exact ties of the final division: multiplier 0.5, x = 2 * (k + 1/2) * 2^-shift
                k = rng.integers(-1000, 1000, 50)
                ties = 2 * ((2 * k + 1) << max(-shift - 1, 0)) if shift < 0 else 2 * k + 1
                rows += [
                    (int(t), 1 << 30, shift, rounding) for t in ties if INT32_MIN <= t <= INT32_MAX
                ]
    return np.array(rows, dtype=np.int64)


def test_c_requantize_matches_the_reference(tmp_path):
    """firmware/tc_fixedpoint.h's tc_requantize, compiled for this machine, against the
    Python reference on every shift, both roundings, the int32 extremes and built ties."""
    import subprocess

    from tinycnn.codegen.host import HOST_CFLAGS, compiler
    from tinycnn.codegen.render import firmware_dir

    (tmp_path / "harness.c").write_text(REQUANTIZE_HARNESS)
    subprocess.run(
        [compiler(), *HOST_CFLAGS, "-I", str(firmware_dir()), "harness.c", "-o", "harness"],
        cwd=tmp_path,
        check=True,
        timeout=120,
    )
    cases = _requantize_cases()
    text = "\n".join(" ".join(map(str, row)) for row in cases.tolist())
    result = subprocess.run(
        [str(tmp_path / "harness")],
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    got = np.array(result.stdout.split(), dtype=np.int64)
    expected = np.concatenate(
        [
            requantize(
                cases[i : i + 1, 0], cases[i, 1], cases[i, 2], ("double", "single")[cases[i, 3]]
            )
            for i in range(len(cases))
        ]
    )
    # A single-rounding result outside int32 is outside TFLite's contract (it DCHECKs that the
    # result fits); the reference returns it unwrapped, C's int32 cannot: compare the rest.
    fits = (expected >= INT32_MIN) & (expected <= INT32_MAX)
    assert np.all(fits[cases[:, 3] == 0])  # double rounding saturates: always in range
    got, expected, cases = got[fits], expected[fits], cases[fits]
    wrong = np.flatnonzero(got != expected)
    assert len(got) > 50_000
    assert wrong.size == 0, (
        f"{wrong.size} differ, first {cases[wrong[0]].tolist()}: C {got[wrong[0]]}, reference {expected[wrong[0]]}"
    )


FAST_HARNESS_BODY = r"""
static int32_t check(const int32_t *rows, int32_t count)
{
    int32_t wrong = 0;
    for (int32_t i = 0; i < count; ++i) {
        /* x, multiplier, shift, offset, low, high, expected, expected before the clamp */
        const int32_t *r = rows + 8 * i;
        const int32_t fast = tc_requantize_clamp_fast(r[0], r[1], r[2], r[3], r[4], r[5]);
        const int32_t exact = tc_requantize_clamp(r[0], r[1], r[2], TC_ROUNDING_DOUBLE, r[3], r[4], r[5]);
        wrong += (fast != r[6]) + (exact != r[6]);
    }
    /* tc_requantize_small on the rows it takes (|x| < 2^30), four rows at a time through
     * tc_store4_clamped with the first one's range: each lane its own value. */
    for (int32_t i = 0; i + 3 < count; i += 4) {
        int32_t v[4], expected[4], small = 1;
        const int32_t *first = rows + 8 * i;
        for (int32_t j = 0; j < 4; ++j) {
            const int32_t *r = rows + 8 * (i + j);
            small = small && r[0] > -TC_SMALL_ACC_LIMIT && r[0] < TC_SMALL_ACC_LIMIT;
            v[j] = small ? tc_requantize_small(r[0], r[1], r[2], 2 * r[3] + 1) : 0;
            expected[j] = r[7] < first[4] ? first[4] : (r[7] > first[5] ? first[5] : r[7]);
        }
        if (small) {
            int8_t out[4];
            tc_store4_clamped(out, v[0], v[1], v[2], v[3], tc_range4(first[4], first[5]));
            for (int32_t j = 0; j < 4; ++j) {
                wrong += out[j] != expected[j];
            }
            tc_store2_clamped(out, v[2], v[3], tc_range4(first[4], first[5]));
            wrong += (out[0] != expected[2]) + (out[1] != expected[3]);
        }
    }
    return wrong;
}
"""


def _fast_cases(count_per_shift: int = 300) -> np.ndarray:
    """Rows (x, multiplier, shift, offset, act_min, act_max, reference) for every shift the fast
    path takes, with accumulators up to the int32 extremes (where its addition saturates)."""
    rng = np.random.default_rng(11)
    rows = []
    for shift in range(-23, 0):
        r = -shift
        extremes = np.array([INT32_MAX, INT32_MAX - 1, INT32_MIN, INT32_MIN + 1, -1, 0, 1])
        largest_small = np.array([(1 << 30) - 1, 1 - (1 << 30), (1 << 30) - 2, 2 - (1 << 30)])
        k = rng.integers(-5000, 5000, 60)
        ties = (2 * k + 1) << r  # with multiplier 0.5: h = (2k + 1) * 2^(r-1), a tie at 2^r
        random = np.concatenate(
            [
                rng.integers(INT32_MIN, INT32_MAX, count_per_shift, endpoint=True),
                rng.integers(-(1 << 20), 1 << 20, count_per_shift),
            ]
        )
        xs = np.concatenate([extremes, ties, random, largest_small])
        ms = rng.integers(1 << 30, INT32_MAX, len(xs), endpoint=True)
        ms[: len(extremes)] = INT32_MAX  # h near the int32 limits: the saturating addition
        ms[len(extremes) : len(extremes) + len(ties)] = 1 << 30
        ms[-len(largest_small) :] = INT32_MAX
        keep = (xs >= INT32_MIN) & (xs <= INT32_MAX)
        xs, ms = xs[keep], ms[keep]
        offsets = rng.integers(-128, 128, len(xs))
        lows = rng.integers(-128, 0, len(xs))
        highs = rng.integers(0, 128, len(xs))
        for x, m, o, lo, hi in zip(xs, ms, offsets, lows, highs, strict=True):
            x = int(np.clip(x, INT32_MIN, INT32_MAX))
            value = requantize(np.array([x]), int(m), shift, "double")[0] + o
            clamped = int(np.clip(value, lo, hi))
            rows.append((x, int(m), shift, int(o), int(lo), int(hi), clamped, int(value)))
    return np.array(rows, dtype=np.int64)


def test_fast_requantize_matches_the_reference_host_and_cortex_m4(tmp_path):
    """tc_requantize_clamp_fast, tc_requantize_clamp and tc_requantize_small with
    tc_store4_clamped and tc_store2_clamped against the Python reference plus
    zero point and clamp, for every shift -23..-1: compiled for this machine (the portable
    saturation) and for the Cortex-M4 in QEMU (QADD)."""
    import subprocess

    from tinycnn.codegen.host import HOST_CFLAGS, compiler
    from tinycnn.codegen.render import firmware_dir

    cases = _fast_cases()
    table = ",\n".join(", ".join(map(str, row)) for row in cases.tolist())
    source = (
        '#include <stdint.h>\n#include "tc_runtime.h"\n'
        f"static const int32_t rows[] = {{\n{table}\n}};\n" + FAST_HARNESS_BODY
    )
    host = tmp_path / "host"
    host.mkdir()
    (host / "harness.c").write_text(
        source.replace("#include <stdint.h>\n", "#include <stdint.h>\n#include <stdio.h>\n")
        + f'int main(void) {{ printf("%d\\n", (int)check(rows, {len(cases)})); return 0; }}\n'
    )
    subprocess.run(
        [compiler(), *HOST_CFLAGS, "-I", str(firmware_dir()), "harness.c", "-o", "harness"],
        cwd=host,
        check=True,
        timeout=120,
    )
    done = subprocess.run(
        [str(host / "harness")], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "0"

    from tinycnn import __version__
    from tinycnn.board.emulate import qemu_command, read_lines
    from tinycnn.boards import load_board
    from tinycnn.codegen.build import compile_object, firmware_cflags, link_firmware
    from tinycnn.codegen.projects import write_qemu_platform
    from tinycnn.codegen.render import RUNTIME_COMMON, template_environment

    board = tmp_path / "m4"
    board.mkdir()
    main = source.replace(
        '#include "tc_runtime.h"', '#include "tc_runtime.h"\n#include "platform.h"'
    ) + (
        "int main(void) {\n    tc_platform_init();\n"
        f'    tc_platform_write(check(rows, {len(cases)}) == 0 ? "FAST OK\\r\\n" : "FAST WRONG\\r\\n");\n'
        "    for (;;) {\n    }\n}\n"
    )
    (board / "main.c").write_text(main)
    write_qemu_platform(
        template_environment(),
        board,
        {"version": __version__, "board": load_board("qemu_m4")},
        main=("qemu/startup.c.j2", "startup.c"),
    )
    for name in RUNTIME_COMMON:  # the headers tc_runtime.h includes
        (board / name).write_text((firmware_dir() / name).read_text())
    objects = []
    for path in sorted(board.glob("*.c")):
        compile_object(board, path, firmware_cflags(), path.with_suffix(".o"))
        objects.append(path.with_suffix(".o"))
    elf = link_firmware(board, objects)
    lines = read_lines(
        qemu_command(elf, serial="stdio"), lambda got: any("FAST" in x for x in got), 120
    )
    assert "FAST OK" in lines, lines
