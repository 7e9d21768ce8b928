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

static TC_INLINE int32_t tc_saturate16(int32_t x)
{
    return tc_clamp(x, INT16_MIN, INT16_MAX);
}

/* Two rows' dot products with the same vector x of n int8 values, added to *sum_a and *sum_b.
 * With the DSP instructions four values a step: x widened once (SXTB16, and with ROR #8),
 * each row's four weights widened and taken by two SMLAD; the rest one at a time. */
static TC_INLINE void tc_lstm_dot2(const int8_t *row_a, const int8_t *row_b, const int8_t *x, int32_t n,
                                   int32_t *sum_a, int32_t *sum_b)
{
    int32_t a = *sum_a, b = *sum_b, k = 0;
#if TC_DSP
    for (; k + 4 <= n; k += 4) {
        const uint32_t x4 = tc_load4(x + k), a4 = tc_load4(row_a + k), b4 = tc_load4(row_b + k);
        const int32_t x_even = __sxtb16((int32_t)x4), x_odd = tc_sxtb16_ror8(x4);
        a = __smlad(x_odd, tc_sxtb16_ror8(a4), __smlad(x_even, __sxtb16((int32_t)a4), a));
        b = __smlad(x_odd, tc_sxtb16_ror8(b4), __smlad(x_even, __sxtb16((int32_t)b4), b));
    }
#endif
    for (; k < n; ++k) {
        a += row_a[k] * x[k];
        b += row_b[k] * x[k];
    }
    *sum_a = a;
    *sum_b = b;
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

/* The Q3.12 pre-activations of the four gates for every unit, from the input row x and the
 * previous hidden state: two units at a time (the input row and the hidden state widened
 * once for both), an odd last unit paired with itself. */
static void tc_lstm_gates(const tc_lstm_params_t *p, const int8_t *x, const int8_t *hidden,
                          const int8_t *const *weights, const int32_t *const *folded_biases,
                          int16_t *gates)
{
    const int32_t units = p->units, input_size = p->input_size;
    for (int32_t g = 0; g < 4; ++g) {
        const int8_t *input_weights = weights[g], *recurrent_weights = weights[4 + g];
        const int32_t *input_bias = folded_biases[g], *recurrent_bias = folded_biases[4 + g];
        for (int32_t u = 0; u < units; u += 2) {
            const int32_t v = u + 1 < units ? u + 1 : u;
            int32_t acc_u = input_bias[u], acc_v = input_bias[v];
            int32_t rec_u = recurrent_bias[u], rec_v = recurrent_bias[v];
            tc_lstm_dot2(input_weights + u * input_size, input_weights + v * input_size, x, input_size,
                         &acc_u, &acc_v);
            tc_lstm_dot2(recurrent_weights + u * units, recurrent_weights + v * units, hidden, units,
                         &rec_u, &rec_v);
            gates[g * units + u] = tc_lstm_gate(p, g, acc_u, rec_u);
            gates[g * units + v] = tc_lstm_gate(p, g, acc_v, rec_v);
        }
    }
}

/* One unit's new cell state (stored) and hidden state (returned), TFLite Micro's form. */
static int8_t tc_lstm_unit_tflm(const tc_lstm_params_t *p, const int16_t *gates, int16_t *cell,
                                int32_t u)
{
    const int32_t units = p->units;
    const int32_t input_gate = tc_sigmoid_q15(gates[u]);
    const int32_t forget_gate = tc_sigmoid_q15(gates[units + u]);
    const int32_t candidate = tc_tanh_q15(gates[2 * units + u], 3, 0);
    const int32_t output_gate = tc_sigmoid_q15(gates[3 * units + u]);
    const int32_t kept = tc_saturate16(tc_requantize(forget_gate * cell[u], p->forget_multiplier,
                                                     p->forget_shift, TC_ROUNDING_DOUBLE));
    const int32_t added = tc_saturate16(tc_requantize(
        input_gate * candidate, p->input_cell_multiplier, p->input_cell_shift, TC_ROUNDING_DOUBLE));
    int32_t c = tc_saturate16(kept + added);
    if (p->cell_clip > 0) {
        c = tc_clamp(c, -p->cell_clip, p->cell_clip);
    }
    cell[u] = (int16_t)c;
    const int32_t squashed = tc_tanh_q15((int16_t)c, p->tanh_multiplier, p->tanh_shift);
    const int32_t h = tc_requantize(squashed * output_gate, p->output_multiplier, p->output_shift,
                                    TC_ROUNDING_DOUBLE);
    return (int8_t)tc_clamp(h + p->output_zero_point, -128, 127);
}

/* The same in LiteRT's form. */
static int8_t tc_lstm_unit_litert(const tc_lstm_params_t *p, const int16_t *gates, int16_t *cell,
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
    const int32_t h = tc_requantize(squashed * output_gate, p->output_multiplier, p->output_shift,
                                    TC_ROUNDING_DOUBLE);
    return (int8_t)tc_clamp(h + p->output_zero_point, -128, 127);
}

void tc_lstm_s8(const tc_lstm_params_t *p, const int8_t *input, const int8_t *const *weights,
                const int32_t *const *folded_biases, int8_t *hidden, int16_t *cell, int16_t *gates,
                int8_t *output)
{
    const int32_t units = p->units;
    for (int32_t u = 0; u < units; ++u) {
        hidden[u] = (int8_t)p->hidden_zero_point;
        cell[u] = 0;
    }
    for (int32_t t = 0; t < p->steps; ++t) {
        tc_lstm_gates(p, input + t * p->input_size, hidden, weights, folded_biases, gates);
        for (int32_t u = 0; u < units; ++u) {
            output[t * units + u] = p->litert ? tc_lstm_unit_litert(p, gates, cell, u)
                                              : tc_lstm_unit_tflm(p, gates, cell, u);
        }
        /* The new hidden state, read by the next step's recurrent products. */
        for (int32_t u = 0; u < units; ++u) {
            hidden[u] = output[t * units + u];
        }
    }
}
