/* tinycnn runtime: the public kernel API, one function per TFLite operator (like CMSIS-NN's
 * arm_nnfunctions.h). Generated models call these; each is defined in the file of the same
 * name (tc_conv_s8 in tc_conv_s8.c) and follows the Python reference kernel of the same stem
 * (tinycnn/ref/conv.py) bit for bit. The parameter structs are in tc_types.h.
 *
 * Conventions for every kernel:
 * - Tensors are int8, NHWC, contiguous; a tc_dims_t gives [N, H, W, C] (fewer dimensions are
 *   padded with 1s in front).
 * - An offset is added to a stored int8 value: input offsets are minus the input zero point
 *   (so in [-127, 128]), output offsets the output zero point (in [-128, 127]).
 * - A multiplier and shift pair is a real factor M = multiplier * 2^(shift - 31), multiplier
 *   in [0, 2^31), shift in [-31, 30] (tc_requantize, tc_fixedpoint.h); `rounding` says
 *   which of TFLite's two roundings it uses.
 * - act_min <= act_max, both in [-128, 127]: the fused activation's clamp.
 * - The generator's memory plan keeps a call's inputs, outputs and scratch apart, each at a
 *   16-byte-aligned offset of the arena; scratch and working memory hold nothing before or
 *   after the call. */
#ifndef TC_NN_FUNCTIONS_H
#define TC_NN_FUNCTIONS_H

#include "tc_types.h"

/* ---- Convolutions ---- */

/* CONV_2D with per-channel weights, and optionally a MAX_POOL_2D fused after it. Dispatches to
 * the variant the parameters call for (tc_conv_s8.c documents the choice).
 * params       strides and dilations >= 1; pad_top, pad_left >= 0 (SAME padding's top and
 *              left, the rest implied by the output dims); depth_multiplier 1;
 *              multiplier[], shift[], folded_bias[] one per output channel (all required);
 *              window: the scratch (tinycnn/ref/c_params.py's conv_scratch() bytes, 4-byte
 *              aligned); filter_stride: filter_h * filter_w * in_channels rounded up to a
 *              multiple of 4; pool_h = 0, or the fused pool's window and strides (then every
 *              multiplier >= 0, as the generator checks); wide_weights 0 or 1.
 * input_dims   [N, H, W, C_in]; input: N * H * W * C_in values.
 * filter_dims  [C_out, KH, KW, C_in], TFLite's filter shape (a depthwise layer of one input
 *              channel, run here: [M, KH, KW, 1]).
 * filter       the generator's layout (tinycnn/ref/c_params.py's conv_weight_layout): each
 *              channel's KH * KW * C_in taps padded with zeros to filter_stride, channels
 *              2p and 2p + 1 interleaved 4 taps at a time, an odd last one paired with zeros;
 *              (C_out + C_out % 2) * filter_stride int8 values, or as many int16 values in
 *              SXTB16's order when params->wide_weights (widened_layout; cast to int8_t *).
 * output_dims  [N, OH, OW, C_out]: the convolution's grid, or the pooled grid with a pool.
 * output       N * OH * OW * C_out values. */
void tc_conv_s8(const tc_conv_params_t *params, const tc_dims_t *input_dims, const int8_t *input,
                const tc_dims_t *filter_dims, const int8_t *filter, const tc_dims_t *output_dims,
                int8_t *output);

/* tc_conv_s8's variant for a fused MAX_POOL_2D (params->pool_h > 0, VALID padding): the
 * same parameters; output_dims is the pooled grid. */
void tc_conv_fused_pool_s8(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                           const int8_t *input, const tc_dims_t *filter_dims, const int8_t *filter,
                           const tc_dims_t *output_dims, int8_t *output);

/* DEPTHWISE_CONV_2D with per-channel weights: output channel ic * depth_multiplier + m reads
 * input channel ic only. Dispatches to the variant the parameters call for
 * (tc_depthwise_conv_s8.c documents the choice).
 * params       strides and dilations >= 1; pad_top, pad_left >= 0; depth_multiplier >= 1;
 *              multiplier[], shift[] one per output channel; folded_bias[] one per output
 *              channel, or 0 for the reference loop nest; window, filter_stride, pool_h and
 *              wide_weights are not read (0).
 * input_dims   [N, H, W, C_in] (the generator runs a layer of one input channel on tc_conv_s8).
 * filter_dims  [1, KH, KW, C_out], C_out = C_in * depth_multiplier; filter: TFLite's layout,
 *              KH * KW * C_out int8 values.
 * bias         C_out int32 values, or 0 for none: the start of a window the padding cuts
 *              (folded_bias starts the others).
 * output_dims  [N, OH, OW, C_out]; output: N * OH * OW * C_out values. */
void tc_depthwise_conv_s8(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                          const int8_t *input, const tc_dims_t *filter_dims, const int8_t *filter,
                          const int32_t *bias, const tc_dims_t *output_dims, int8_t *output);

/* tc_depthwise_conv_s8's variant for depth multiplier 1 without dilation, with folded_bias
 * given: four channels at a time. The same parameters. */
void tc_depthwise_conv_dm1_s8(const tc_conv_params_t *params, const tc_dims_t *input_dims,
                              const int8_t *input, const tc_dims_t *filter_dims, const int8_t *filter,
                              const int32_t *bias, const tc_dims_t *output_dims, int8_t *output);

/* A CONV_2D and the DEPTHWISE_CONV_2D that alone reads its output, run as one layer: the
 * convolution makes its output rows just ahead of the depthwise windows that read them, into
 * pair->rows, so its output never exists whole; each layer runs its own kernel above on the
 * rows it is given, bit for bit the unfused results (tc_conv_depthwise_s8.c).
 * pair         both layers' parameters, filters and dims as their own kernels take them (the
 *              depthwise layer has more than one input channel); rows: the band (scratch).
 * input_dims   [1, H, W, C_in], the convolution's input; input: H * W * C_in values.
 * output_dims  [1, OH, OW, C_out], the depthwise layer's output; output: OH * OW * C_out. */
void tc_conv_depthwise_s8(const tc_conv_depthwise_t *pair, const tc_dims_t *input_dims,
                          const int8_t *input, const tc_dims_t *output_dims, int8_t *output);

/* ---- Fully connected ---- */

/* FULLY_CONNECTED: output[r][u] = requantize(folded_bias[u] + sum_k input[r][k] * W[u][k]).
 * params       multiplier[], shift[] one per unit when per_channel, else one; folded_bias[]
 *              one per unit (required: the bias and the input offset's share).
 * rows         input rows (the input's elements / accum_depth); accum_depth >= 1: inputs
 *              per row; input: rows * accum_depth values.
 * out_units    output units >= 1.
 * weights      the generator's layout (tinycnn/ref/c_params.py's fc_weight_layout): depth
 *              padded with zeros to a multiple of 4, units in blocks of 4 (the last holds the
 *              1 to 3 left), per 4 inputs a block's weights together; int8_t values, or
 *              int16_t in SXTB16's order when params->wide_weights.
 * output       rows * out_units values. */
void tc_fully_connected_s8(const tc_fully_connected_params_t *params, int32_t rows,
                           int32_t accum_depth, const int8_t *input, int32_t out_units,
                           const void *weights, int8_t *output);

/* ---- Pooling ---- */

/* MAX_POOL_2D and AVERAGE_POOL_2D over height and width, channel by channel.
 * params       window filter_h x filter_w >= 1, strides >= 1, pad_top, pad_left >= 0 (cells
 *              outside the input are skipped); act_min, act_max the output's clamp.
 * input_dims   [N, H, W, C]; output_dims [N, OH, OW, C]. The average pool needs every window
 *              to hold one input cell or more (the generator refuses the others). */
void tc_max_pool_s8(const tc_pool_params_t *params, const tc_dims_t *input_dims,
                    const int8_t *input, const tc_dims_t *output_dims, int8_t *output);
void tc_average_pool_s8(const tc_pool_params_t *params, const tc_dims_t *input_dims,
                        const int8_t *input, const tc_dims_t *output_dims, int8_t *output);

/* MEAN over height and width (GlobalAveragePooling2D).
 * params       multiplier, shift: input_scale / output_scale / (H * W); zero points of the
 *              input and output.
 * input_dims   [N, H, W, C], H * W <= 2^23 (the sum stays in int32); output: N * C values. */
void tc_mean_s8(const tc_mean_params_t *params, const tc_dims_t *input_dims, const int8_t *input,
                int8_t *output);

/* ---- Element-wise and broadcasting ---- */

/* ADD and MUL of two int8 tensors, either broadcast to output_dims (its size-1 dimensions
 * repeat). ADD: left_shift 20, each input rescaled by its multiplier and shift, the sum by the
 * output's; MUL: the product rescaled by input1_scale * input2_scale / output_scale.
 * input1_dims, input2_dims, output_dims: [N, H, W, C], each input dimension 1 or the output's;
 * output: the output dims' product of values. */
void tc_add_s8(const tc_add_params_t *params, const tc_dims_t *input1_dims, const int8_t *input1,
               const tc_dims_t *input2_dims, const int8_t *input2, const tc_dims_t *output_dims,
               int8_t *output);
void tc_mul_s8(const tc_mul_params_t *params, const tc_dims_t *input1_dims, const int8_t *input1,
               const tc_dims_t *input2_dims, const int8_t *input2, const tc_dims_t *output_dims,
               int8_t *output);

/* Per-element maps of `size` int8 values:
 * RELU, RELU6, RELU_N1_TO_1  rescaled to the output, then clamped to [act_min, act_max];
 * LEAKY_RELU                 x >= 0 rescaled by identity_*, x < 0 by alpha_*;
 * LOGISTIC                   output scale 1/256, zero point -128; inputs beyond input_radius
 *                            saturate;
 * TANH                       output scale 1/128, zero point 0; the same input rescaling;
 * HARD_SWISH                 x * relu6(x + 3) / 6 with Q15 multipliers and power-of-two
 *                            exponents (tinycnn/ref/hard_swish.py). */
void tc_relu_s8(const tc_relu_params_t *params, int32_t size, const int8_t *input, int8_t *output);
void tc_leaky_relu_s8(const tc_leaky_relu_params_t *params, int32_t size, const int8_t *input,
                      int8_t *output);
void tc_logistic_s8(const tc_logistic_params_t *params, int32_t size, const int8_t *input,
                    int8_t *output);
void tc_tanh_s8(const tc_tanh_params_t *params, int32_t size, const int8_t *input,
                int8_t *output);
void tc_hard_swish_s8(const tc_hard_swish_params_t *params, int32_t size, const int8_t *input,
                      int8_t *output);

/* SOFTMAX along the last axis, output scale 1/256 and zero point -128.
 * params       input_multiplier, input_left_shift >= 0: beta * input_scale into Q5.26;
 *              diff_min: a value whose difference from its row's maximum is below it gets 0.
 * rows >= 1, depth in [1, 4096] (the Q12 sum of the exponentials); input, output: rows *
 * depth values. */
void tc_softmax_s8(const tc_softmax_params_t *params, int32_t rows, int32_t depth,
                   const int8_t *input, int8_t *output);

/* ---- Quantization at a model's edges and inside it ---- */

/* QUANTIZE int8 -> int8 (a tensor's scale changes): multiplier, shift input_scale /
 * output_scale; `size` values. */
void tc_quantize_s8(const tc_quantize_params_t *params, int32_t size, const int8_t *input,
                    int8_t *output);
/* QUANTIZE float -> int8 at a float model's input: round(x / scale) + zero_point, ties away
 * from zero, saturated; DEQUANTIZE int8 -> float at its output: (q - zero_point) * scale. The
 * only floating point in the runtime. */
void tc_quantize_f32_s8(const tc_quantize_f32_params_t *params, int32_t size, const float *input,
                        int8_t *output);
void tc_dequantize_s8(const tc_dequantize_params_t *params, int32_t size, const int8_t *input,
                      float *output);

/* ---- Moving values ---- */

/* CONCATENATION of `count` inputs along one axis (every input has the output's scale and zero
 * point, so bytes are copied): inputs[i] holds outer * axis_sizes[i] * inner values; outer is
 * the product of the dimensions before the axis, inner of those after it. */
void tc_concatenation_s8(int32_t count, const int8_t *const *inputs, const int32_t *axis_sizes,
                         int32_t outer, int32_t inner, int8_t *output);

/* PAD over height and width with pad_value (the output zero point): the input lands at
 * (pad_top, pad_left) of the output grid; input_dims [N, H, W, C], output_dims [N, OH, OW, C]
 * with OH >= H + pad_top, OW >= W + pad_left. */
void tc_pad_s8(const tc_dims_t *input_dims, const int8_t *input, int32_t pad_top,
               int32_t pad_left, int8_t pad_value, const tc_dims_t *output_dims, int8_t *output);

/* STRIDED_SLICE of a tensor of up to 4 dimensions: slice holds 12 values, per axis of
 * input_dims (N, H, W, C) the first index, then the 4 steps (>= 1), then the 4 counts taken;
 * the output is those counts' product of values, in order. */
void tc_strided_slice_s8(const tc_dims_t *input_dims, const int8_t *input, const int32_t *slice,
                         int8_t *output);

/* SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND on [N, H, W, C] (how the converter writes a dilated
 * convolution): blocks block_h x block_w; pad_top, pad_left are the paddings (cells outside
 * the input get pad_value) or the crops. Output batch (offset_y * block_w + offset_x) * N + b
 * holds image b's cells at that offset within each block. */
void tc_space_to_batch_nd_s8(const tc_space_to_batch_params_t *params, const tc_dims_t *input_dims,
                             const int8_t *input, const tc_dims_t *output_dims, int8_t *output);
void tc_batch_to_space_nd_s8(const tc_space_to_batch_params_t *params, const tc_dims_t *input_dims,
                             const int8_t *input, const tc_dims_t *output_dims, int8_t *output);

/* ---- Recurrent ---- */

/* UNIDIRECTIONAL_SEQUENCE_LSTM over one sequence, int8 input, weights and hidden state, int16
 * cell state, in TFLite Micro's arithmetic or (p->litert) LiteRT's.
 * p             steps, input_size, units >= 1, and the scalings of tc_lstm_params_t.
 * input         steps * input_size values.
 * weights       8 matrices: the input weights [units, input_size] of the gates input,
 *               forget, cell, output, then their recurrent weights [units, units], each in
 *               tc_fully_connected_s8's layout (int16 when p->wide_weights).
 * folded_biases 8 vectors of `units` int32 values in the same order: bias - zp_x * row sums,
 *               then -zp_h * row sums.
 * hidden        units int8 (the initial hidden state, set to its zero point), cell units
 *               int16, gates 4 * units int16 followed by 2 * units int32 (4-byte aligned):
 *               working memory. Each step reads the previous step's hidden state from output.
 * output        steps * units values: the hidden state after each step. */
void tc_lstm_s8(const tc_lstm_params_t *p, const int8_t *input, const void *const *weights,
                const int32_t *const *folded_biases, int8_t *hidden, int16_t *cell, int16_t *gates,
                int8_t *output);

#endif /* TC_NN_FUNCTIONS_H */
