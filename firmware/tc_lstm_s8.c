/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8 input, weights and hidden state, int16 cell state
 * (tinycnn/ref/lstm.py), in TFLite Micro's arithmetic or, with p->litert, LiteRT's: their
 * sigmoid and tanh, the recurrent product saturated or not before the add, the cell products
 * requantized and saturated or shifted once and wrapped, and LiteRT's skipped cell tanh when
 * 15 + p is outside 0..6. Gates in the order input, forget, cell, output.
 *
 * Every call is one sequence: the hidden state starts at its zero point and the cell state at
 * zero. Per step and unit, each gate's Q3.12 pre-activation is the input part (bias and zero
 * point folded in at generation) and the recurrent part, each requantized and saturated to
 * int16, then added with saturation. Accumulators: |x| <= 255 and |w| <= 127, so a row of
 * up to 66,000 inputs fits int32; the state products (Q0.15 x int16) stay below 2^30. */
#include "tc_runtime.h"

/* The int16 sigmoid and tanh in TFLite Micro's form (tinycnn/ref/activations16.py, convention
 * "tflm"), inline in the unit update: Q3.12 (or the cell state's format) in, Q0.15 out, from a
 * table of 256 sigmoid samples 1/24 apart with linear interpolation. The input is first brought
 * to 3 x Q3.12, so that one table step is 512 raw units for the sigmoid and 256 for the tanh.
 *
 * sigmoid(k / 24) * 65536, k = 0..255, capped at 65535: TFLite Micro's table (Apache-2.0),
 * the same values as SIGMOID_TABLE in tinycnn/ref/activations16.py (sum 15670629). */
static const uint16_t tc_sigmoid_table[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535
};

/* x * multiplier, then a rounding right shift: the table's input scale. */
static TC_INLINE int32_t tc_table_input(int32_t x, int32_t multiplier, int32_t right_shift)
{
    const int32_t rounder = right_shift > 0 ? (1 << (right_shift - 1)) : 0;
    return (x * multiplier + rounder) >> right_shift;
}

static TC_INLINE int16_t tc_sigmoid_q15(int16_t x)
{
    const int32_t value = tc_table_input(x, 3, 0);
    const uint32_t magnitude = (uint32_t)(value < 0 ? -value : value);
    const uint32_t index = magnitude >> 9;
    uint32_t result;
    if (index >= 255u) {
        result = 0x7FFFu << 10;
    } else {
        const uint32_t low = tc_sigmoid_table[index], high = tc_sigmoid_table[index + 1];
        result = (low << 9) + (magnitude & 0x1FFu) * (high - low);
    }
    result = value >= 0 ? result + (1u << 9) : (1u << 25) - result + (1u << 9) - 1u;
    return (int16_t)(result >> 10);
}

static TC_INLINE int16_t tc_tanh_q15(int16_t x, int32_t multiplier, int32_t right_shift)
{
    const int32_t value = tc_table_input(x, multiplier, right_shift);
    const uint32_t magnitude = (uint32_t)(value < 0 ? -value : value);
    const uint32_t index = magnitude >> 8;
    int32_t result;
    if (index >= 255u) {
        result = (int32_t)(0xFFFFu << 8);
    } else {
        const int32_t low = tc_sigmoid_table[index], high = tc_sigmoid_table[index + 1];
        result = (low << 8) + (int32_t)(magnitude & 0xFFu) * (high - low);
    }
    result = value >= 0 ? result - (1 << 23) + (1 << 7) : -result + (1 << 23) + (1 << 7) - 1;
    return (int16_t)(result >> 8);
}

static TC_INLINE int32_t tc_saturate16(int32_t x)
{
#if TC_DSP
    return __ssat(x, 16);
#else
    return tc_clamp(x, INT16_MIN, INT16_MAX);
#endif
}

/* A gate's Q3.12 pre-activation from its input and recurrent sums. */
static TC_INLINE int16_t tc_lstm_gate(const tc_lstm_params_t *p, int32_t g, int32_t acc, int32_t recurrent)
{
    const int32_t from_input = tc_saturate16(
        tc_requantize(acc, p->input_multiplier[g], p->input_shift[g], TC_ROUNDING_DOUBLE));
    int32_t from_state =
        tc_requantize(recurrent, p->recurrent_multiplier[g], p->recurrent_shift[g], TC_ROUNDING_DOUBLE);
    if (!p->litert) {
        from_state = tc_saturate16(from_state);
    }
    return (int16_t)tc_saturate16(from_input + from_state);
}

/* Gate g's pre-activations of every unit from their sums, the requantizations in a few
 * instructions (tc_requantize_small); out of line, with few values live. */
static TC_NOINLINE void tc_lstm_gate_row_small(const tc_lstm_params_t *p, int32_t g, const int32_t *from_input,
                                               const int32_t *from_state, int16_t *gate)
{
    const int32_t m_in = p->input_multiplier[g], s_in = p->input_shift[g], units = p->units;
    const int32_t m_state = p->recurrent_multiplier[g], s_state = p->recurrent_shift[g];
    if (p->litert) { /* LiteRT adds the recurrent part unsaturated */
        for (int32_t u = 0; u < units; ++u) {
            const int32_t a = tc_saturate16(tc_requantize_small(from_input[u], m_in, s_in, 1));
            gate[u] = (int16_t)tc_saturate16(a + tc_requantize_small(from_state[u], m_state, s_state, 1));
        }
        return;
    }
    for (int32_t u = 0; u < units; ++u) {
        const int32_t a = tc_saturate16(tc_requantize_small(from_input[u], m_in, s_in, 1));
        const int32_t b = tc_saturate16(tc_requantize_small(from_state[u], m_state, s_state, 1));
        gate[u] = (int16_t)tc_saturate16(a + b);
    }
}

/* The Q3.12 pre-activations of the four gates for every unit, from the input row x and the
 * previous hidden state: per gate, every unit's input sum and recurrent sum (tc_fc_sums_s8,
 * four units at a time) into `sums` (2 * units int32), then the units' pre-activations. */
static void tc_lstm_gates(const tc_lstm_params_t *p, int small, const int8_t *x, const int8_t *hidden,
                          const void *const *weights, const int32_t *const *folded_biases,
                          int16_t *gates, int32_t *sums)
{
    const int32_t units = p->units;
    int32_t *from_input = sums, *from_state = sums + units;
    for (int32_t g = 0; g < 4; ++g) {
        tc_fc_sums_s8(x, p->input_size, units, weights[g], p->wide_weights, folded_biases[g], from_input);
        tc_fc_sums_s8(hidden, units, units, weights[4 + g], p->wide_weights, folded_biases[4 + g], from_state);
        int16_t *gate = gates + g * units;
        if (small) {
            tc_lstm_gate_row_small(p, g, from_input, from_state, gate);
        } else {
            for (int32_t u = 0; u < units; ++u) {
                gate[u] = tc_lstm_gate(p, g, from_input[u], from_state[u]);
            }
        }
    }
}

/* Whether every gate's sums take tc_requantize_small: fast shifts, and the folded biases more
 * than the products can add (|x| <= 128 raw int8 values, |w| <= 128) inside its range. */
static int tc_lstm_small_ok(const tc_lstm_params_t *p, const int32_t *const *folded_biases)
{
    int ok = 1;
    for (int32_t g = 0; g < 4; ++g) {
        const int fast = tc_fast_requantize_ok(&p->input_shift[g], 1, TC_ROUNDING_DOUBLE) &&
                         tc_fast_requantize_ok(&p->recurrent_shift[g], 1, TC_ROUNDING_DOUBLE);
        ok = ok && tc_small_acc_ok(fast, folded_biases[g], p->units, p->input_size, 128 * 128) &&
             tc_small_acc_ok(fast, folded_biases[4 + g], p->units, p->units, 128 * 128);
    }
    return ok;
}

/* A product of a Q0.15 gate and an int16 value (|.| < 2^30) requantized: with `small`
 * (tc_lstm_small_state_ok) by tc_requantize_small, else exactly. */
static TC_INLINE int32_t tc_lstm_scale(int small, int32_t product, int32_t multiplier, int32_t shift)
{
    return small ? tc_requantize_small(product, multiplier, shift, 1)
                 : tc_requantize(product, multiplier, shift, TC_ROUNDING_DOUBLE);
}

/* Whether the cell and hidden state updates' three shifts are fast ones (their products of a
 * Q0.15 gate and an int16 value are always below 2^30 in magnitude). */
static int tc_lstm_small_state_ok(const tc_lstm_params_t *p)
{
    const int32_t shifts[3] = {p->forget_shift, p->input_cell_shift, p->output_shift};
    return tc_fast_requantize_ok(shifts, 3, TC_ROUNDING_DOUBLE);
}

/* One unit's new cell state (stored) and hidden state (returned), TFLite Micro's form. */
static int8_t tc_lstm_unit_tflm(const tc_lstm_params_t *p, int small, const int16_t *gates, int16_t *cell,
                                int32_t u)
{
    const int32_t units = p->units;
    const int32_t input_gate = tc_sigmoid_q15(gates[u]);
    const int32_t forget_gate = tc_sigmoid_q15(gates[units + u]);
    const int32_t candidate = tc_tanh_q15(gates[2 * units + u], 3, 0);
    const int32_t output_gate = tc_sigmoid_q15(gates[3 * units + u]);
    const int32_t kept = tc_saturate16(tc_lstm_scale(small, forget_gate * cell[u], p->forget_multiplier, p->forget_shift));
    const int32_t added =
        tc_saturate16(tc_lstm_scale(small, input_gate * candidate, p->input_cell_multiplier, p->input_cell_shift));
    int32_t c = tc_saturate16(kept + added);
    if (p->cell_clip > 0) {
        c = tc_clamp(c, -p->cell_clip, p->cell_clip);
    }
    cell[u] = (int16_t)c;
    const int32_t squashed = tc_tanh_q15((int16_t)c, p->tanh_multiplier, p->tanh_shift);
    const int32_t h = tc_lstm_scale(small, squashed * output_gate, p->output_multiplier, p->output_shift);
    return (int8_t)tc_clamp(h + p->output_zero_point, -128, 127);
}

/* The same in LiteRT's form. */
static int8_t tc_lstm_unit_litert(const tc_lstm_params_t *p, int small, const int16_t *gates, int16_t *cell,
                                  int32_t u)
{
    const int32_t units = p->units, cell_bits = 15 + p->cell_exponent;
    const int32_t input_gate = tc_gemmlowp_sigmoid_q15(gates[u]);
    const int32_t forget_gate = tc_gemmlowp_sigmoid_q15(gates[units + u]);
    const int32_t candidate = tc_gemmlowp_tanh_q15(gates[2 * units + u], 3);
    const int32_t output_gate = tc_gemmlowp_sigmoid_q15(gates[3 * units + u]);
    const int32_t kept = (int16_t)tc_rounding_divide_by_pot(forget_gate * cell[u], 15);
    const int32_t added =
        (int16_t)tc_rounding_divide_by_pot(input_gate * candidate, 30 + p->cell_exponent);
    int32_t c = tc_saturate16(kept + added);
    if (p->cell_clip > 0) {
        c = tc_clamp(c, -p->cell_clip, p->cell_clip);
    }
    cell[u] = (int16_t)c;
    /* LiteRT's tanh returns without writing outside 0..6 integer bits: its buffer holds i. */
    const int32_t squashed = (cell_bits >= 0 && cell_bits <= 6)
                                 ? tc_gemmlowp_tanh_q15((int16_t)c, cell_bits)
                                 : input_gate;
    const int32_t h = tc_lstm_scale(small, squashed * output_gate, p->output_multiplier, p->output_shift);
    return (int8_t)tc_clamp(h + p->output_zero_point, -128, 127);
}

void tc_lstm_s8(const tc_lstm_params_t *p, const int8_t *input, const void *const *weights,
                const int32_t *const *folded_biases, int8_t *hidden, int16_t *cell, int16_t *gates,
                int8_t *output)
{
    int32_t *const sums = (int32_t *)(void *)(gates + 4 * p->units); /* the scratch after the gates */
    const int small = tc_lstm_small_ok(p, folded_biases), small_state = tc_lstm_small_state_ok(p);
    const int32_t units = p->units;
    for (int32_t u = 0; u < units; ++u) {
        hidden[u] = (int8_t)p->hidden_zero_point;
        cell[u] = 0;
    }
    for (int32_t t = 0; t < p->steps; ++t) {
        /* the previous hidden state: the zero points, then the last step's output row */
        const int8_t *previous = t == 0 ? hidden : output + (t - 1) * units;
        tc_lstm_gates(p, small, input + t * p->input_size, previous, weights, folded_biases, gates, sums);
        for (int32_t u = 0; u < units; ++u) {
            output[t * units + u] = p->litert ? tc_lstm_unit_litert(p, small_state, gates, cell, u)
                                              : tc_lstm_unit_tflm(p, small_state, gates, cell, u);
        }
    }
}
