"""The deployed interpreters, opened the same way everywhere.

``litert``: LiteRT with its reference kernels (``BUILTIN_REF``) or, for fast accuracy runs,
its optimized builtin kernels without the XNNPACK delegate. ``tflm``: the ``tflite-micro``
package's host build of TFLite Micro, the code that runs on the board.
"""

from __future__ import annotations

from tinycnn.errors import TinycnnError


class InterpreterError(TinycnnError):
    """An interpreter refused the model."""


def litert_interpreter(content: bytes, *, reference: bool = True, num_threads: int = 1):
    """A LiteRT interpreter over ``content`` with tensors allocated."""
    from ai_edge_litert import interpreter as litert

    resolver = (
        litert.OpResolverType.BUILTIN_REF
        if reference
        else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    try:
        interpreter = litert.Interpreter(
            model_content=content,
            experimental_op_resolver_type=resolver,
            num_threads=num_threads,
        )
        interpreter.allocate_tensors()
    except (RuntimeError, ValueError) as exc:
        raise InterpreterError(f"LiteRT cannot run this model: {str(exc).strip()}") from None
    return interpreter
