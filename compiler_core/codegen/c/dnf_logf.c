/* Natural log in float32 without a libm call, branch-free (vectorizes). a = 2^e m with m in
   [sqrt(1/2), sqrt(2)) from the float's bits (subnormals scaled by 2^23 first), log(m) =
   log1p(m - 1) by Cephes' degree-9 polynomial, e ln2 added in two parts. Max error 1 ulp (0.83
   measured) against numpy's float64 log, swept as accuracy.py says; log(+-0) = -inf, log(inf)
   = inf, negative or NaN: NaN. [ours, Cephes' coefficients] */
static inline float dnf_logf(float a) {
    const int sub = a < 1.17549435e-38f; /* subnormal (or <= 0: replaced at the end) */
    union { float f; uint32_t u; } v = {sub ? a * 8388608.0f : a};
    const int32_t e0 = (int32_t)((v.u >> 23) & 0xffu) - (sub ? 150 : 127);
    v.u = (v.u & 0x007fffffu) | 0x3f800000u; /* mantissa in [1, 2) */
    const int big = v.f > 1.41421356f;
    const float f = (big ? v.f * 0.5f : v.f) - 1.0f; /* exact */
    const float e = (float)(big ? e0 + 1 : e0);
    const float z = f * f;
    float p = 7.0376836292e-2f;
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    float y = p * f * z;
    y = y - 2.12194440e-4f * e;
    y = y - 0.5f * z;
    float r = f + y;
    r = r + 0.693359375f * e;
    r = a > 3.40282347e+38f ? a : r; /* +inf */
    r = a == 0.0f ? -INFINITY : r;
    return a < 0.0f || a != a ? NAN : r;
}
