/* tinycnn int8 runtime: the kernels generated models call.
 *
 * C99, no heap, nothing from libc beyond <stdint.h> and <string.h>, no floating point but in
 * QUANTIZE and DEQUANTIZE at the edges of a model with a float interface.
 * Every kernel follows the TFLite reference kernel of the same name bit for bit; the
 * Python reference engine (tinycnn/ref/) has a module with the same stem for each file.
 * Tensors are NHWC int8; all quantization parameters are precomputed by the generator.
 */
#ifndef TC_RUNTIME_H
#define TC_RUNTIME_H

#include <stdint.h>
#include <string.h>

#include "tc_fixedpoint.h"

typedef struct {
    int32_t n, h, w, c;
} tc_dims_t;

/* ---- tc_fixedpoint.c ---- */
/* tc_requantize_clamp out of line: the general path of the kernels' stores. */
int8_t tc_requantize_store(int32_t acc, int32_t multiplier, int32_t shift, tc_rounding_t rounding,
                           int32_t offset, int32_t act_min, int32_t act_max);

/* Keeps a rarely taken path out of line, so the hot loop that calls it stays small. */
#if defined(__GNUC__)
#define TC_NOINLINE __attribute__((noinline))
#else
#define TC_NOINLINE
#endif

/* ---- tc_gemmlowp.c: Q-format fixed point for SOFTMAX and LOGISTIC ---- */
/* x * 2^exponent: saturating left shift, or rounding right shift for a negative exponent. */
int32_t tc_multiply_by_pot(int32_t x, int32_t exponent);
/* exp(a) for a <= 0 given in Q(integer_bits); the result is Q0. */
int32_t tc_exp_on_negative_values(int32_t a, int32_t integer_bits);
/* 1 / (1 + a) for a in [0, 1), Q0 in and out: three Newton-Raphson steps. */
int32_t tc_one_over_one_plus_x(int32_t a);

/* Offset of element (n, h, w, c) in a tensor broadcast to a larger shape: its size-1
 * dimensions repeat (numpy's and TFLite's broadcasting of 4-D shapes). */
static inline int32_t tc_broadcast_offset(const tc_dims_t *dims, int32_t n, int32_t h, int32_t w,
                                          int32_t c)
{
    return (((dims->n == 1 ? 0 : n) * dims->h + (dims->h == 1 ? 0 : h)) * dims->w +
            (dims->w == 1 ? 0 : w)) * dims->c + (dims->c == 1 ? 0 : c);
}

/* Dot products of int8 vectors, the inner loops of CONV_2D and FULLY_CONNECTED. With the DSP
 * instructions of a Cortex-M4/M7 they take four bytes a step: SXTB16 widens bytes 0 and 2,
 * and with ROR #8 bytes 1 and 3, to 16-bit pairs; SMLAD adds two products. Elsewhere, and
 * for the last n % 4 bytes, the plain loop. |sum| <= n * 128 * 128, so int32 holds any n up
 * to 131,071 and the order of the additions cannot change the result. */
/* Four bytes as a word: one LDR where unaligned loads are allowed (Cortex-M3/M4/M7), which
 * compilers know; bytewise elsewhere. */
static TC_INLINE uint32_t tc_load4(const int8_t *p)
{
    uint32_t word;
    memcpy(&word, p, 4);
    return word;
}

#if TC_DSP
static TC_INLINE int32_t tc_sxtb16_ror8(uint32_t word)
{
#if defined(__GNUC__)
    int32_t result;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(result) : "r"(word)); /* one instruction, not two */
    return result;
#else
    return __sxtb16((int32_t)((word >> 8) | (word << 24)));
#endif
}
#endif

/* Sum of a[i] * b[i] for i < n. */
static inline int32_t tc_dot_s8(const int8_t *a, const int8_t *b, int32_t n)
{
    int32_t sum = 0;
    int32_t i = 0;
#if TC_DSP
    for (; i + 4 <= n; i += 4) {
        const uint32_t a4 = tc_load4(a + i), b4 = tc_load4(b + i);
        sum = __smlad(__sxtb16((int32_t)a4), __sxtb16((int32_t)b4), sum);
        sum = __smlad(tc_sxtb16_ror8(a4), tc_sxtb16_ror8(b4), sum);
    }
#endif
    for (; i < n; ++i) {
        sum += (int32_t)a[i] * (int32_t)b[i];
    }
    return sum;
}

/* Four dot products for CONV_2D: two input windows a0, a1 with the filters of two output
 * channels b0, b1, stored pair-interleaved by the generator: for each group of 4 taps, b0's
 * 4 bytes then b1's 4 bytes. n (a multiple of 4) taps; sums[0] += a0.b0, sums[1] += a0.b1,
 * sums[2] += a1.b0, sums[3] += a1.b1.
 *
 * With the DSP instructions the two windows are first widened to int16 and interleaved by
 * tc_widen_pair_s8 (per 4 taps: a0's bytes 0 and 2, a0's 1 and 3, a1's 0 and 2, a1's 1 and 3,
 * each pair in one word, SXTB16's order), so each 4-tap step is one LDM of the windows, two
 * weight loads, four SXTB16 and eight SMLAD: 16 multiply-accumulates in 17 instructions. */
#if TC_DSP
static TC_INLINE void tc_widen_pair_s8(const int8_t *a0, const int8_t *a1, int32_t n, uint32_t *out)
{
    for (int32_t i = 0; i < n; i += 4) {
        const uint32_t w0 = tc_load4(a0 + i), w1 = tc_load4(a1 + i);
        out[0] = (uint32_t)__sxtb16((int32_t)w0);
        out[1] = (uint32_t)tc_sxtb16_ror8(w0);
        out[2] = (uint32_t)__sxtb16((int32_t)w1);
        out[3] = (uint32_t)tc_sxtb16_ror8(w1);
        out += 4;
    }
}

static TC_INLINE void tc_dot_2x2_widened(const uint32_t *windows, const int8_t *pair_weights, int32_t n,
                                      int32_t sums[4])
{
    int32_t s00 = sums[0], s01 = sums[1], s10 = sums[2], s11 = sums[3];
    const uint32_t *a = windows;
    const uint32_t *const end = windows + n; /* 4 words per 4 taps; n > 0 */
    const int8_t *b = pair_weights;
#if defined(__GNUC__) && defined(__OPTIMIZE__)
    /* gcc spills registers in this loop when it is written with intrinsics (26 instructions
     * a step instead of 17): the windows go to r4, r5, r6, r8 so one LDM loads them. The
     * loop runs two steps a turn (16.5 instructions a step); an odd step runs first. */
#define TC_DOT_2X2_STEP \
    "ldm %[a]!, {r4, r5, r6, r8}\n\t" \
    "ldr %[t], [%[b]], #4\n\t" \
    "sxtb16 %[te], %[t]\n\t" \
    "sxtb16 %[t], %[t], ror #8\n\t" \
    "smlad %[s00], r4, %[te], %[s00]\n\t" \
    "smlad %[s00], r5, %[t], %[s00]\n\t" \
    "smlad %[s10], r6, %[te], %[s10]\n\t" \
    "smlad %[s10], r8, %[t], %[s10]\n\t" \
    "ldr %[t], [%[b]], #4\n\t" \
    "sxtb16 %[te], %[t]\n\t" \
    "sxtb16 %[t], %[t], ror #8\n\t" \
    "smlad %[s01], r4, %[te], %[s01]\n\t" \
    "smlad %[s01], r5, %[t], %[s01]\n\t" \
    "smlad %[s11], r6, %[te], %[s11]\n\t" \
    "smlad %[s11], r8, %[t], %[s11]\n\t"
    uint32_t t, te;
    __asm__ volatile(
        "sub %[t], %[end], %[a]\n\t" /* 16 bytes a step: bit 4 set for an odd count */
        "tst %[t], #16\n\t"
        "beq 2f\n\t"
        TC_DOT_2X2_STEP
        "cmp %[a], %[end]\n\t"
        "beq 3f\n\t"
        "2:\n\t"
        TC_DOT_2X2_STEP
        TC_DOT_2X2_STEP
        "cmp %[a], %[end]\n\t"
        "bne 2b\n\t"
        "3:\n\t"
        : [s00] "+r"(s00), [s01] "+r"(s01), [s10] "+r"(s10), [s11] "+r"(s11), [a] "+r"(a),
          [b] "+r"(b), [t] "=&r"(t), [te] "=&r"(te)
        : [end] "r"(end)
        : "r4", "r5", "r6", "r8", "cc", "memory");
#undef TC_DOT_2X2_STEP
#else
    for (; a < end; a += 4, b += 8) {
        const uint32_t b0 = tc_load4(b), b1 = tc_load4(b + 4);
        const int32_t b0_even = __sxtb16((int32_t)b0), b0_odd = tc_sxtb16_ror8(b0);
        const int32_t b1_even = __sxtb16((int32_t)b1), b1_odd = tc_sxtb16_ror8(b1);
        s00 = __smlad((int32_t)a[1], b0_odd, __smlad((int32_t)a[0], b0_even, s00));
        s01 = __smlad((int32_t)a[1], b1_odd, __smlad((int32_t)a[0], b1_even, s01));
        s10 = __smlad((int32_t)a[3], b0_odd, __smlad((int32_t)a[2], b0_even, s10));
        s11 = __smlad((int32_t)a[3], b1_odd, __smlad((int32_t)a[2], b1_even, s11));
    }
#endif
    sums[0] = s00, sums[1] = s01, sums[2] = s10, sums[3] = s11;
}
/* tc_dot_2x2_widened with weights the generator stored widened (int16, SXTB16's order: per
 * 4 taps, channel 2p's words (t0 t2) (t1 t3), then channel 2p + 1's): a step is one LDM of
 * the windows, two LDRD of the weights and eight SMLAD, 11 instructions for 16
 * multiply-accumulates. */
static TC_INLINE void tc_dot_2x2_wide_weights(const uint32_t *windows, const int16_t *pair_weights,
                                               int32_t n, int32_t sums[4])
{
    int32_t s00 = sums[0], s01 = sums[1], s10 = sums[2], s11 = sums[3];
    const uint32_t *a = windows;
    const uint32_t *const end = windows + n;
    const uint32_t *b = (const uint32_t *)(const void *)pair_weights;
#if defined(__GNUC__) && defined(__OPTIMIZE__) /* at -O0 gcc cannot spare the registers */
    uint32_t even, odd;
    __asm__ volatile(
        "1:\n\t"
        "ldm %[a]!, {r4, r5, r6, r8}\n\t"
        "ldrd %[even], %[odd], [%[b]], #8\n\t"
        "smlad %[s00], r4, %[even], %[s00]\n\t"
        "smlad %[s00], r5, %[odd], %[s00]\n\t"
        "smlad %[s10], r6, %[even], %[s10]\n\t"
        "smlad %[s10], r8, %[odd], %[s10]\n\t"
        "ldrd %[even], %[odd], [%[b]], #8\n\t"
        "smlad %[s01], r4, %[even], %[s01]\n\t"
        "smlad %[s01], r5, %[odd], %[s01]\n\t"
        "smlad %[s11], r6, %[even], %[s11]\n\t"
        "smlad %[s11], r8, %[odd], %[s11]\n\t"
        "cmp %[a], %[end]\n\t"
        "bne 1b\n\t"
        : [s00] "+r"(s00), [s01] "+r"(s01), [s10] "+r"(s10), [s11] "+r"(s11), [a] "+r"(a),
          [b] "+r"(b), [even] "=&r"(even), [odd] "=&r"(odd)
        : [end] "r"(end)
        : "r4", "r5", "r6", "r8", "cc", "memory");
#else
    for (; a < end; a += 4, b += 4) {
        s00 = __smlad((int32_t)a[1], (int32_t)b[1], __smlad((int32_t)a[0], (int32_t)b[0], s00));
        s10 = __smlad((int32_t)a[3], (int32_t)b[1], __smlad((int32_t)a[2], (int32_t)b[0], s10));
        s01 = __smlad((int32_t)a[1], (int32_t)b[3], __smlad((int32_t)a[0], (int32_t)b[2], s01));
        s11 = __smlad((int32_t)a[3], (int32_t)b[3], __smlad((int32_t)a[2], (int32_t)b[2], s11));
    }
#endif
    sums[0] = s00, sums[1] = s01, sums[2] = s10, sums[3] = s11;
}
#else
static TC_INLINE void tc_dot_2x2_s8(const int8_t *a0, const int8_t *a1, const int8_t *pair_weights,
                                 int32_t n, int32_t sums[4])
{
    int32_t s00 = sums[0], s01 = sums[1], s10 = sums[2], s11 = sums[3];
    for (int32_t i = 0; i < n; i += 4, pair_weights += 8) {
        /* written out: each weight and input byte loaded once, used twice */
#define TC_TAP(j)                                                                  \
    do {                                                                           \
        const int32_t x0 = a0[i + (j)], x1 = a1[i + (j)];                          \
        const int32_t w0 = pair_weights[(j)], w1 = pair_weights[4 + (j)];          \
        s00 += x0 * w0;                                                            \
        s01 += x0 * w1;                                                            \
        s10 += x1 * w0;                                                            \
        s11 += x1 * w1;                                                            \
    } while (0)
        TC_TAP(0);
        TC_TAP(1);
        TC_TAP(2);
        TC_TAP(3);
#undef TC_TAP
    }
    sums[0] = s00, sums[1] = s01, sums[2] = s10, sums[3] = s11;
}

/* tc_dot_2x2_s8 with the weights stored widened (see tc_dot_2x2_wide_weights). */
static TC_INLINE void tc_dot_2x2_s8_wide_weights(const int8_t *a0, const int8_t *a1,
                                                 const int16_t *w, int32_t n, int32_t sums[4])
{
    int32_t s00 = sums[0], s01 = sums[1], s10 = sums[2], s11 = sums[3];
    for (int32_t i = 0; i < n; i += 4, w += 8) {
        /* w[0..3]: channel 2p's taps 0, 2, 1, 3; w[4..7]: channel 2p + 1's */
#define TC_TAP(tap, slot)                                                          \
    do {                                                                           \
        const int32_t x0 = a0[i + (tap)], x1 = a1[i + (tap)];                      \
        const int32_t w0 = w[(slot)], w1 = w[4 + (slot)];                          \
        s00 += x0 * w0;                                                            \
        s01 += x0 * w1;                                                            \
        s10 += x1 * w0;                                                            \
        s11 += x1 * w1;                                                            \
    } while (0)
        TC_TAP(0, 0);
        TC_TAP(2, 1);
        TC_TAP(1, 2);
        TC_TAP(3, 3);
#undef TC_TAP
    }
    sums[0] = s00, sums[1] = s01, sums[2] = s10, sums[3] = s11;
}
#endif

/* ---- tc_conv_s8.c, tc_depthwise_conv_s8.c ---- */
typedef struct {
    int32_t input_offset;  /* minus the input zero point */
    int32_t output_offset; /* the output zero point */
    int32_t stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
    int32_t depth_multiplier; /* depthwise only */
    int32_t act_min, act_max;
    const int32_t *multiplier; /* per output channel */
    const int32_t *shift;
    tc_rounding_t rounding;
    /* CONV_2D, optional (0 for the plain loops): bias + input_offset * (sum of the channel's
     * filter), and a scratch buffer of tc_conv_scratch_bytes(); then the input windows of two
     * output cells are gathered at a time and output values come four at a time. */
    const int32_t *folded_bias;
    int8_t *window;
    /* CONV_2D: taps per output channel in the filter, filter_h * filter_w * in_channels
     * rounded up to a multiple of 4 (the generator pads each filter with zeros); the filters
     * are pair-interleaved (see tc_dot_2x2_widened), an odd last channel paired with zeros. */
    int32_t filter_stride;
    /* CONV_2D with a MAX_POOL_2D fused after it (valid padding): the pool's window and
     * strides, and output_dims is the pooled grid; act_min/act_max are both ops' clamps
     * composed. pool_h = 0: no pool. */
    int32_t pool_h, pool_w, pool_stride_h, pool_stride_w;
    /* CONV_2D: 1 when the generator stored the filter widened to int16 in SXTB16's order
     * (each 4 taps t0 t1 t2 t3 as t0 t2 t1 t3; `filter` then points at int16 values): twice
     * the flash, and the DSP loop loads the weights ready (tc_dot_2x2_wide_weights). */
    int32_t wide_weights;
} tc_conv_params_t;

void tc_conv_s8(const tc_conv_params_t *params, const tc_dims_t *input_dims, const int8_t *input,
                const tc_dims_t *filter_dims, const int8_t *filter, const int32_t *bias,
                const tc_dims_t *output_dims, int8_t *output);
void tc_depthwise_conv_s8(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                          const int8_t *input, const tc_dims_t *filter_dims, const int8_t *filter,
                          const int32_t *bias, const tc_dims_t *output_dims, int8_t *output);

/* ---- tc_fully_connected_s8.c ---- */
typedef struct {
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    const int32_t *multiplier; /* one per output unit, or a single one */
    const int32_t *shift;
    int32_t per_channel;
    tc_rounding_t rounding;
    const int32_t *folded_bias; /* optional: bias + input_offset * (sum of the unit's weights) */
} tc_fully_connected_params_t;

void tc_fully_connected_s8(const tc_fully_connected_params_t *params, int32_t rows,
                           int32_t accum_depth, const int8_t *input, int32_t out_units,
                           const int8_t *weights, const int32_t *bias, int8_t *output);

/* ---- tc_max_pool_s8.c, tc_average_pool_s8.c ---- */
typedef struct {
    int32_t filter_h, filter_w, stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max;
} tc_pool_params_t;

void tc_max_pool_s8(const tc_pool_params_t *params, const tc_dims_t *input_dims,
                    const int8_t *input, const tc_dims_t *output_dims, int8_t *output);
void tc_average_pool_s8(const tc_pool_params_t *params, const tc_dims_t *input_dims,
                        const int8_t *input, const tc_dims_t *output_dims, int8_t *output);

/* ---- tc_mean_s8.c: average over height and width (GlobalAveragePooling2D) ---- */
typedef struct {
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift; /* input_scale / output_scale / count, count folded in */
    tc_rounding_t rounding;
} tc_mean_params_t;

void tc_mean_s8(const tc_mean_params_t *params, const tc_dims_t *input_dims, const int8_t *input,
                int8_t *output);

/* ---- tc_softmax_s8.c ---- */
typedef struct {
    int32_t input_multiplier, input_left_shift, diff_min;
    tc_rounding_t rounding;
} tc_softmax_params_t;

void tc_softmax_s8(const tc_softmax_params_t *params, int32_t rows, int32_t depth,
                   const int8_t *input, int8_t *output);

/* ---- tc_add_s8.c ---- */
typedef struct {
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift, input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
    tc_rounding_t rounding;
} tc_add_params_t;

void tc_add_s8(const tc_add_params_t *params, const tc_dims_t *input1_dims, const int8_t *input1,
               const tc_dims_t *input2_dims, const int8_t *input2, const tc_dims_t *output_dims,
               int8_t *output);

/* ---- tc_mul_s8.c ---- */
typedef struct {
    int32_t input1_offset, input2_offset, output_offset;
    int32_t multiplier, shift;
    int32_t act_min, act_max;
    tc_rounding_t rounding;
} tc_mul_params_t;

void tc_mul_s8(const tc_mul_params_t *params, const tc_dims_t *input1_dims, const int8_t *input1,
               const tc_dims_t *input2_dims, const int8_t *input2, const tc_dims_t *output_dims,
               int8_t *output);

/* ---- tc_activations16.c: the LSTM's int16 sigmoid and tanh, Q0.15 out ---- */
/* TFLite Micro's table form */
int16_t tc_sigmoid_q15(int16_t x); /* x in Q3.12 */
int16_t tc_tanh_q15(int16_t x, int32_t multiplier, int32_t right_shift); /* to 3 x Q3.12 first */
/* LiteRT's gemmlowp form */
int16_t tc_gemmlowp_sigmoid_q15(int16_t x);                       /* x in Q3.12 */
int16_t tc_gemmlowp_tanh_q15(int16_t x, int32_t integer_bits);    /* x in Q(integer_bits), 0..6 */

/* ---- tc_lstm_s8.c ---- */
typedef struct {
    int32_t steps, input_size, units;
    int32_t input_multiplier[4], input_shift[4];         /* per gate: input part -> Q3.12 */
    int32_t recurrent_multiplier[4], recurrent_shift[4]; /* per gate: recurrent part -> Q3.12 */
    int32_t forget_multiplier, forget_shift;             /* f * c (Q0.15 x 2^p) -> 2^p */
    int32_t input_cell_multiplier, input_cell_shift;     /* i * g (Q0.15 x Q0.15) -> 2^p */
    int32_t cell_clip;                                   /* |c| bound; 0: none */
    int32_t tanh_multiplier, tanh_shift;                 /* the cell state -> 3 x Q3.12 */
    int32_t output_multiplier, output_shift, output_zero_point; /* tanh(c) * o -> hidden */
    int32_t hidden_zero_point;
    int32_t cell_exponent;  /* p: the cell state's scale is 2^p */
    int32_t litert;         /* 1: LiteRT's arithmetic (convention "tflite"); 0: TFLite Micro's */
} tc_lstm_params_t;
/* weights: the 4 input then the 4 recurrent matrices (gates input, forget, cell, output);
 * folded_biases likewise (bias - zp_x * row sums; -zp_h * row sums). hidden (units int8),
 * cell (units int16) and gates (4 * units int16) are working memory in the arena. */
void tc_lstm_s8(const tc_lstm_params_t *p, const int8_t *input, const int8_t *const *weights,
                const int32_t *const *folded_biases, int8_t *hidden, int16_t *cell, int16_t *gates,
                int8_t *output);

/* ---- tc_strided_slice_s8.c ---- */
void tc_strided_slice_s8(const tc_dims_t *input_dims, const int8_t *input, const int32_t *slice,
                         int8_t *output);

/* ---- tc_concatenation_s8.c ---- */
void tc_concatenation_s8(int32_t count, const int8_t *const *inputs, const int32_t *axis_sizes,
                         int32_t outer, int32_t inner, int8_t *output);

/* ---- tc_quantize_s8.c: int8 -> int8 requantization ---- */
typedef struct {
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift; /* input_scale / output_scale */
    tc_rounding_t rounding;
} tc_quantize_params_t;

void tc_quantize_s8(const tc_quantize_params_t *params, int32_t size, const int8_t *input,
                    int8_t *output);

/* ---- tc_quantize_s8.c: float -> int8; tc_dequantize_s8.c: int8 -> float ---- */
typedef struct {
    float scale;
    int32_t zero_point;
} tc_quantize_f32_params_t;

typedef tc_quantize_f32_params_t tc_dequantize_params_t;

void tc_quantize_f32_s8(const tc_quantize_f32_params_t *params, int32_t size, const float *input,
                        int8_t *output);
void tc_dequantize_s8(const tc_dequantize_params_t *params, int32_t size, const int8_t *input,
                      float *output);

/* ---- tc_space_to_batch_nd_s8.c: SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND on [N, H, W, C] ---- */
typedef struct {
    int32_t block_h, block_w;
    int32_t pad_top, pad_left; /* paddings for SPACE_TO_BATCH_ND, crops for BATCH_TO_SPACE_ND */
    int8_t pad_value;          /* the output zero point */
} tc_space_to_batch_params_t;

void tc_space_to_batch_nd_s8(const tc_space_to_batch_params_t *params, const tc_dims_t *input_dims,
                             const int8_t *input, const tc_dims_t *output_dims, int8_t *output);
void tc_batch_to_space_nd_s8(const tc_space_to_batch_params_t *params, const tc_dims_t *input_dims,
                             const int8_t *input, const tc_dims_t *output_dims, int8_t *output);

/* ---- tc_pad_s8.c ---- */
void tc_pad_s8(const tc_dims_t *input_dims, const int8_t *input, int32_t pad_top,
               int32_t pad_left, int8_t pad_value, const tc_dims_t *output_dims, int8_t *output);

/* ---- tc_relu_s8.c: RELU, RELU6, RELU_N1_TO_1 as standalone ops ---- */
typedef struct {
    int32_t input_offset, output_offset;
    int32_t multiplier, shift;
    int32_t act_min, act_max;
    tc_rounding_t rounding;
} tc_relu_params_t;

void tc_relu_s8(const tc_relu_params_t *params, int32_t size, const int8_t *input, int8_t *output);

/* ---- tc_leaky_relu_s8.c ---- */
typedef struct {
    int32_t input_zero_point, output_zero_point;
    int32_t identity_multiplier, identity_shift; /* input_scale / output_scale */
    int32_t alpha_multiplier, alpha_shift;       /* alpha * input_scale / output_scale */
    tc_rounding_t rounding;
} tc_leaky_relu_params_t;

void tc_leaky_relu_s8(const tc_leaky_relu_params_t *params, int32_t size, const int8_t *input,
                      int8_t *output);

/* ---- tc_logistic_s8.c: output scale 1/256, zero point -128 ---- */
typedef struct {
    int32_t input_zero_point;
    int32_t input_multiplier, input_left_shift; /* input_scale * 2^27 */
    int32_t input_radius; /* |x - zero point| from which the output saturates */
    tc_rounding_t rounding;
} tc_logistic_params_t;

void tc_logistic_s8(const tc_logistic_params_t *params, int32_t size, const int8_t *input,
                    int8_t *output);

/* ---- tc_hard_swish_s8.c ---- */
typedef struct {
    int32_t input_zero_point, output_zero_point;
    int32_t output_multiplier_16, output_exponent;   /* Q15, (input_scale / 128) / output_scale */
    int32_t reluish_multiplier_16, reluish_exponent; /* Q15, (input_scale / 128) / (3 / 32768) */
} tc_hard_swish_params_t;

void tc_hard_swish_s8(const tc_hard_swish_params_t *params, int32_t size, const int8_t *input,
                      int8_t *output);

#endif /* TC_RUNTIME_H */
