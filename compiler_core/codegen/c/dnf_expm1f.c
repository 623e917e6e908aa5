/* e^a - 1 in float32, accurate near 0 (Elu, Celu, Selu: alpha * (e^x - 1)), no libm call,
   branch-free (vectorizes). Same reduction and polynomial as dnf_expf: e^r - 1 = P(r) r^2 + r
   keeps r's precision, then e^a - 1 = 2^n (e^r - 1) + (2^n - 1). Max error 2 ulp (1.57
   measured; below -17.4 the result is -1) against numpy's float64 expm1, swept as
   accuracy.py says; +inf gives inf, -inf -1, NaN NaN.
   [ours, Cephes' coefficients] */
static inline float dnf_expm1f(float a) {
    const float x = a > 89.0f ? 89.0f : (a < -30.0f ? -30.0f : a); /* NaN passes */
    const float n0 = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float n = n0 == n0 ? n0 : 0.0f;
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float em = p * (r * r) + r; /* e^r - 1 */
    const int32_t k = (int32_t)n; /* in [-43, 128] */
    const int big = k > 127; /* 2^128 is not a float: 2^127 (e^r) 2, where the -1 is lost */
    union { uint32_t u; float f; } s = {(uint32_t)((big ? 127 : k) + 127) << 23};
    const float near = s.f * em + (s.f - 1.0f);
    const float far = s.f * (em + 1.0f) * 2.0f;
    return big ? far : near;
}
