/* tanh in float32 without a libm call, branch-free (vectorizes): on |a| < 0.625 Cephes' odd
   polynomial, above (1 - e) / (1 + e) with e = dnf_expf(-2|a|), which saturates to 1; the
   sign is a's (tanh(-0) = -0). Max error 2 ulp (1.51 measured) against numpy's float64 tanh,
   swept as accuracy.py says; +-inf give +-1, NaN NaN.
   [ours, Cephes' coefficients] */
static inline float dnf_tanhf(float a) {
    union { float f; uint32_t u; } v = {a};
    const uint32_t sign = v.u & 0x80000000u;
    v.u ^= sign;
    const float x = v.f; /* |a| */
    const float s = x * x;
    float p = -5.70498872745e-3f;
    p = p * s + 2.06390887954e-2f;
    p = p * s - 5.37397155531e-2f;
    p = p * s + 1.33314422036e-1f;
    p = p * s - 3.33332819422e-1f;
    const float small = p * s * x + x;
    const float e = dnf_expf(-2.0f * x);
    const float large = (1.0f - e) / (1.0f + e);
    union { float f; uint32_t u; } t = {x < 0.625f ? small : large}; /* NaN: large */
    t.u |= sign;
    return t.f;
}
