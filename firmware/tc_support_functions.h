/* tinycnn runtime: what the kernel files share besides the requantization (tc_fixedpoint.h)
 * and the SIMD helpers (tc_dsp_support.h): the fixed-point math of SOFTMAX, LOGISTIC and the
 * LSTM, the broadcasting of ADD and MUL, and the pieces of the CONV_2D and DEPTHWISE_CONV_2D
 * variants. Generated code calls none of these; it calls the kernels of tc_nn_functions.h. */
#ifndef TC_SUPPORT_FUNCTIONS_H
#define TC_SUPPORT_FUNCTIONS_H

#include "tc_fixedpoint.h"
#include "tc_types.h"

/* ---- tc_gemmlowp.c: Q-format fixed point for SOFTMAX, LOGISTIC and TANH ---- */
/* x * 2^exponent: saturating left shift, or rounding right shift for a negative exponent. */
int32_t tc_multiply_by_pot(int32_t x, int32_t exponent);
/* exp(a) for a <= 0 given in Q(integer_bits); the result is Q0. */
int32_t tc_exp_on_negative_values(int32_t a, int32_t integer_bits);
/* 1 / (1 + a) for a in [0, 1), Q0 in and out: three Newton-Raphson steps. */
int32_t tc_one_over_one_plus_x(int32_t a);
int32_t tc_one_minus_x_over_one_plus_x(int32_t a); /* (1 - a) / (1 + a), a in [0, 1), Q0 */

/* ---- tc_activations16.c: the LSTM's int16 sigmoid and tanh, Q0.15 out (TFLite Micro's table
 * form is inline in tc_lstm_s8.c) ---- */
/* LiteRT's gemmlowp form */
int16_t tc_gemmlowp_sigmoid_q15(int16_t x);                       /* x in Q3.12 */
int16_t tc_gemmlowp_tanh_q15(int16_t x, int32_t integer_bits);    /* x in Q(integer_bits), 0..6 */

/* ---- tc_fully_connected_s8.c: the matrix-vector product the LSTM gates share ---- */
/* sums[u] = start[u] + the dot product of `input` (depth int8 values) with unit u's weights,
 * for units >= 1, weights in tc_fully_connected_s8's layout (fc_weight_layout): int8, or
 * widened to int16 when `wide` (tc_fully_connected_params_t's wide_weights). */
void tc_fc_sums_s8(const int8_t *input, int32_t depth, int32_t units, const void *weights, int wide,
                   const int32_t *start, int32_t *sums);

/* ---- ADD, MUL ---- */
/* Offset of element (n, h, w, c) in a tensor broadcast to a larger shape: its size-1
 * dimensions repeat (numpy's and TFLite's broadcasting of 4-D shapes). */
static inline int32_t tc_broadcast_offset(const tc_dims_t *dims, int32_t n, int32_t h, int32_t w,
                                          int32_t c)
{
    return (((dims->n == 1 ? 0 : n) * dims->h + (dims->h == 1 ? 0 : h)) * dims->w +
            (dims->w == 1 ? 0 : w)) * dims->c + (dims->c == 1 ? 0 : c);
}

/* ---- CONV_2D: the pieces tc_conv_s8.c and tc_conv_fused_pool_s8.c walk the output with ---- */

/* params->window cut into its parts (tc_conv_scratch_t) for a layer of in_c input channels. */
static inline tc_conv_scratch_t tc_conv_scratch(const tc_conv_params_t *params, int32_t in_c)
{
    const int32_t k = params->filter_stride;
    const int staged = in_c % 4 != 0;
    tc_conv_scratch_t s;
#if TC_DSP
    s.wide = (uint32_t *)(void *)params->window;
    s.bytes[0] = params->window + 4 * k;
#else
    s.wide = 0;
    s.bytes[0] = params->window;
#endif
    s.bytes[1] = s.bytes[0] + k;
    s.best = (int32_t *)(void *)(params->window + (staged ? 6 : 4) * k);
    return s;
}

/* tc_conv_im2col_s8.c: gathers the input windows of conv cells (cells[0], cells[1]) and
 * (cells[2], cells[3]) (output y, x) of batch b into the scratch, as the pair dot products
 * read them. */
void tc_conv_load_pair_s8(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                          const int8_t *input, const tc_dims_t *filter_dims, int32_t b,
                          const int32_t cells[4], const tc_conv_scratch_t *s);

/* tc_conv_dot_pair_s8.c: the four sums of the two loaded cells with a channel pair's filters,
 * added to sums[]: cell 0 with channels 2p and 2p + 1, then cell 1 with them.
 * wide_weights  params->wide_weights: pair_weights holds int16 values (SXTB16's order)
 * windows       the scratch's windows as tc_conv_load_pair_s8 left them (DSP build: s->wide;
 *               portable build: s->bytes[0], with s->bytes[1] k bytes after it)
 * k             params->filter_stride taps, a multiple of 4, > 0 */
void tc_conv_dot_pair_s8(int32_t wide_weights, const void *windows, const int8_t *pair_weights,
                         int32_t k, int32_t sums[4]);

/* The windows tc_conv_dot_pair_s8 reads, in this build. */
static inline const void *tc_conv_windows(const tc_conv_scratch_t *s)
{
#if TC_DSP
    return s->wide;
#else
    return s->bytes[0];
#endif
}

/* Bytes from one channel pair's filters to the next. */
static inline int32_t tc_conv_pair_bytes(const tc_conv_params_t *params)
{
    return (params->wide_weights ? 4 : 2) * params->filter_stride;
}

/* ---- DEPTHWISE_CONV_2D: what tc_depthwise_conv_s8.c and tc_depthwise_conv_dm1_s8.c share ---- */

/* tc_depthwise_conv_s8.c: the stored value of channel oc by the exact requantization, out of
 * line (the short path, tc_requantize_clamp_fast, is inlined where the layer allows it). */
int8_t tc_depthwise_store_exact(int32_t acc, const tc_conv_params_t *params, int32_t oc);

#endif /* TC_SUPPORT_FUNCTIONS_H */
