/* tinycnn int8 runtime: the types every kernel shares (tensor dims, the rounding mode, each
 * op's parameter struct) and the build configuration (TC_DSP, TC_INLINE, TC_NOINLINE).
 * The kernels' prototypes are in tc_nn_functions.h; tc_runtime.h includes everything.
 *
 * Tensors are NHWC int8; the generator precomputes every field of a parameter struct
 * (tinycnn/ref/<op>.py's lowering) and emits the struct as a const initializer in the order
 * the fields are declared here. */
#ifndef TC_TYPES_H
#define TC_TYPES_H

#include <stdint.h>

/* ---- Build configuration ---- */

/* TC_DSP: use the Cortex-M4/M7 DSP instructions. On where the compiler offers them
 * (__ARM_FEATURE_SIMD32), unless the build defines TC_PORTABLE: then the plain C loops,
 * which give the same results bit for bit (`tinycnn bench` measures both). */
#if defined(__ARM_FEATURE_SIMD32) && !defined(TC_PORTABLE)
#define TC_DSP 1
#else
#define TC_DSP 0
#endif

#if TC_DSP
#include <arm_acle.h> /* the compiler's intrinsics for the Cortex-M4/M7 DSP instructions */
#endif

/* TC_INLINE: inlined even when the build optimizes for size (-Os, as Arduino builds do): the
 * per-output and per-step helpers of the kernels' hot loops. */
#if defined(__GNUC__)
#define TC_INLINE inline __attribute__((always_inline))
#else
#define TC_INLINE inline
#endif

/* Keeps a rarely taken path out of line, so the hot loop that calls it stays small. */
#if defined(__GNUC__)
#define TC_NOINLINE __attribute__((noinline))
#else
#define TC_NOINLINE
#endif

/* ---- Shared types ---- */

/* How tc_requantize rounds. */
typedef enum {
    TC_ROUNDING_DOUBLE = 0, /* SaturatingRoundingDoublingHighMul + RoundingDivideByPOT */
    TC_ROUNDING_SINGLE = 1  /* one 64-bit rounding, TFLITE_SINGLE_ROUNDING */
} tc_rounding_t;

/* A tensor's shape as [N, H, W, C]; tensors of fewer dimensions are padded with 1s in front. */
typedef struct {
    int32_t n, h, w, c;
} tc_dims_t;

/* ---- CONV_2D and DEPTHWISE_CONV_2D: tc_conv_s8, tc_depthwise_conv_s8 ---- */
typedef struct {
    int32_t input_offset;  /* minus the input zero point */
    int32_t output_offset; /* the output zero point */
    int32_t stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
    int32_t depth_multiplier; /* depthwise only */
    int32_t act_min, act_max;
    const int32_t *multiplier; /* per output channel */
    const int32_t *shift;
    tc_rounding_t rounding;
    /* bias + input_offset * (sum of the channel's filter), per output channel; CONV_2D needs it,
     * DEPTHWISE_CONV_2D uses it when present (0: the depthwise reference loop). */
    const int32_t *folded_bias;
    /* CONV_2D: scratch in the arena, tinycnn/ref/c_params.py's conv_scratch() bytes (laid out
     * as tc_conv_scratch_t says): the input windows of two output cells are gathered at a time
     * and output values come four at a time. Unused by DEPTHWISE_CONV_2D (0). */
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

/* CONV_2D's scratch (params->window) cut into its parts by tc_conv_scratch(), with
 * k = filter_stride: the DSP build keeps the two cells' windows widened and interleaved
 * (`wide`, 4k bytes), after them two int8 staging windows (`bytes`, 2k) unless in_channels
 * is a multiple of 4; the portable build keeps the two int8 windows at the start, one after
 * the other. Then, for a fused pool, an int32 running maximum per output channel (`best`, an
 * even count), at 4k (in_channels a multiple of 4) or 6k. */
typedef struct {
    int8_t *bytes[2];
    uint32_t *wide;
    int32_t *best;
} tc_conv_scratch_t;

/* ---- CONV_2D streamed into DEPTHWISE_CONV_2D: tc_conv_depthwise_s8 ---- */
/* The two layers of a fused pair (tinycnn/codegen/fusion.py): the convolution's output, the
 * middle tensor, is never stored whole; `rows` holds the band of its rows that one depthwise
 * output row reads, (KH - 1) * dilation_h + 1 rows of middle_dims->w * middle_dims->c values,
 * in the arena's scratch. */
typedef struct {
    const tc_conv_params_t *conv;
    const tc_dims_t *conv_filter_dims;
    const int8_t *conv_filter;
    const tc_dims_t *middle_dims; /* the convolution's output: [1, H, W, C] */
    const tc_conv_params_t *depthwise;
    const tc_dims_t *depthwise_filter_dims;
    const int8_t *depthwise_filter;
    const int32_t *depthwise_bias;
    int8_t *rows;
} tc_conv_depthwise_t;

/* ---- FULLY_CONNECTED: tc_fully_connected_s8 ---- */
typedef struct {
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    const int32_t *multiplier; /* one per output unit, or a single one */
    const int32_t *shift;
    int32_t per_channel;
    tc_rounding_t rounding;
    const int32_t *folded_bias; /* bias + input_offset * (sum of the unit's weights) */
    /* 1 when the generator stored the weights widened to int16 in SXTB16's order (each 4
     * weights w0 w1 w2 w3 of a unit as w0 w2 w1 w3): twice the flash, no widening at run time */
    int32_t wide_weights;
} tc_fully_connected_params_t;

/* ---- MAX_POOL_2D, AVERAGE_POOL_2D: tc_max_pool_s8, tc_average_pool_s8 ---- */
typedef struct {
    int32_t filter_h, filter_w, stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max;
} tc_pool_params_t;

/* ---- MEAN over height and width (GlobalAveragePooling2D): tc_mean_s8 ---- */
typedef struct {
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift; /* input_scale / output_scale / count, count folded in */
    tc_rounding_t rounding;
} tc_mean_params_t;

/* ---- SOFTMAX: tc_softmax_s8 ---- */
typedef struct {
    int32_t input_multiplier, input_left_shift, diff_min;
    tc_rounding_t rounding;
} tc_softmax_params_t;

/* ---- ADD: tc_add_s8 ---- */
typedef struct {
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift, input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
    tc_rounding_t rounding;
} tc_add_params_t;

/* ---- MUL: tc_mul_s8 ---- */
typedef struct {
    int32_t input1_offset, input2_offset, output_offset;
    int32_t multiplier, shift;
    int32_t act_min, act_max;
    tc_rounding_t rounding;
} tc_mul_params_t;

/* ---- UNIDIRECTIONAL_SEQUENCE_LSTM: tc_lstm_s8 ---- */
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
    int32_t wide_weights;   /* 1: weights as tc_fully_connected_params_t's wide_weights says */
} tc_lstm_params_t;

/* ---- QUANTIZE int8 -> int8: tc_quantize_s8 ---- */
typedef struct {
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift; /* input_scale / output_scale */
    tc_rounding_t rounding;
} tc_quantize_params_t;

/* ---- QUANTIZE float -> int8, DEQUANTIZE int8 -> float: tc_quantize_f32_s8, tc_dequantize_s8 ---- */
typedef struct {
    float scale;
    int32_t zero_point;
} tc_quantize_f32_params_t;

typedef tc_quantize_f32_params_t tc_dequantize_params_t;

/* ---- SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND on [N, H, W, C] ---- */
typedef struct {
    int32_t block_h, block_w;
    int32_t pad_top, pad_left; /* paddings for SPACE_TO_BATCH_ND, crops for BATCH_TO_SPACE_ND */
    int8_t pad_value;          /* the output zero point */
} tc_space_to_batch_params_t;

/* ---- RELU, RELU6, RELU_N1_TO_1 as standalone ops: tc_relu_s8 ---- */
typedef struct {
    int32_t input_offset, output_offset;
    int32_t multiplier, shift;
    int32_t act_min, act_max;
    tc_rounding_t rounding;
} tc_relu_params_t;

/* ---- LEAKY_RELU: tc_leaky_relu_s8 ---- */
typedef struct {
    int32_t input_zero_point, output_zero_point;
    int32_t identity_multiplier, identity_shift; /* input_scale / output_scale */
    int32_t alpha_multiplier, alpha_shift;       /* alpha * input_scale / output_scale */
    tc_rounding_t rounding;
} tc_leaky_relu_params_t;

/* ---- LOGISTIC, output scale 1/256 and zero point -128: tc_logistic_s8 ---- */
typedef struct {
    int32_t input_zero_point;
    int32_t input_multiplier, input_left_shift; /* input_scale * 2^27 */
    int32_t input_radius; /* |x - zero point| from which the output saturates */
    tc_rounding_t rounding;
} tc_logistic_params_t;

/* ---- TANH, output scale 1/128 and zero point 0: tc_tanh_s8 ---- */
typedef tc_logistic_params_t tc_tanh_params_t; /* the same rescaling into Q4.27 and radius */

/* ---- HARD_SWISH: tc_hard_swish_s8 ---- */
typedef struct {
    int32_t input_zero_point, output_zero_point;
    int32_t output_multiplier_16, output_exponent;   /* Q15, (input_scale / 128) / output_scale */
    int32_t reluish_multiplier_16, reluish_exponent; /* Q15, (input_scale / 128) / (3 / 32768) */
} tc_hard_swish_params_t;

#endif /* TC_TYPES_H */
