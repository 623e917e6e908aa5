"""Stated max errors of the float math helpers (``dnf_expf.c``, ``dnf_logf.c``... in this
package), in ulp of the exact value: ``|got - exact| / 2^(floor(log2|exact|) - 23)``, the
ulp never below 2^-149 (subnormal results count in units of the smallest subnormal).

The exact value is numpy's float64 function (``exp``, ``expm1``, ``log``, ``tanh``,
``logaddexp(0, x)``, the logistic, ``x * tanh(logaddexp(0, x))``). The bounds hold over every
float input whose exact result is a finite float32 (larger results must be ``inf``), measured
by a sweep of every float with |x| in [2^-4, 128) for the e^x family (exp, expm1, tanh,
sigmoid, softplus, mish) and in [0.25, 4) for log, and every 61st float elsewhere (2.1e8 and
1.1e8 inputs; the measured maxima are in each C file's comment);
``tests/compiler_core/codegen/test_transcendentals.py`` holds each helper to its bound on a
dense grid, random bit patterns and the special values, on the host (the kernels' flags, so
the loops are vectorized) and on arm64 under qemu (bit-identical to the host).

Exception: ``dnf_mishf`` below x = -87.33 (e^x is subnormal there): absolute error at most
:data:`MISH_TAIL_ABS` (52 units of 2^-149 measured; results below 2^-119).
"""

from __future__ import annotations

MAX_ULP: dict[str, float] = {
    "dnf_expf": 1.0,
    "dnf_expm1f": 2.0,
    "dnf_logf": 1.0,
    "dnf_tanhf": 2.0,
    "dnf_sigmoidf": 3.0,
    "dnf_softplusf": 3.0,
    "dnf_mishf": 5.0,
}

MISH_TAIL_X = -87.33
MISH_TAIL_ABS = 2.0**-140
