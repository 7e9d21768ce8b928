/* tinycnn int8 runtime: the one header generated models include.
 *
 * C99, no heap, nothing from libc beyond <stdint.h> and <string.h>, no floating point but in
 * QUANTIZE and DEQUANTIZE at the edges of a model with a float interface.
 * Every kernel follows the TFLite reference kernel of the same name bit for bit; the
 * Python reference engine (tinycnn/ref/) has a module with the same stem for each file.
 *
 * tc_types.h              types, parameter structs, build configuration (TC_DSP, TC_INLINE)
 * tc_nn_functions.h       the public kernel API, one documented function per operator
 * tc_fixedpoint.h         the one requantization function and its helpers, inline
 * tc_dsp_support.h        the inline SIMD helpers of the kernels' inner loops
 * tc_support_functions.h  what the kernel files share: gemmlowp math, broadcasting, the
 *                         pieces of the convolution variants
 */
#ifndef TC_RUNTIME_H
#define TC_RUNTIME_H

#include "tc_types.h"
#include "tc_fixedpoint.h"
#include "tc_dsp_support.h"
#include "tc_support_functions.h"
#include "tc_nn_functions.h"

#endif /* TC_RUNTIME_H */
