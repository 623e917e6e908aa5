/* e^a in float32 without a libm call, branch-free so gcc vectorizes the loop that calls it
   (selects, unions, no fma: the same bits on every ISA level and on arm64). Cody-Waite
   reduction a = n ln2 + r (|r| <= ln2/2), e^r by Cephes' degree-5 polynomial, 2^n from
   exponent bits as two factors so results round once into the subnormal range and overflow to
   inf. Max error 1 ulp (0.99 measured; subnormal results: in units of the smallest subnormal)
   against numpy's float64 exp, swept as accuracy.py says; exp(+-inf) = inf/0, NaN stays NaN.
   [ours, Cephes' coefficients] */
static inline float dnf_expf(float a) {
    const float x = a > 89.0f ? 89.0f : (a < -104.0f ? -104.0f : a); /* NaN passes */
    /* n = round(x / ln2): adding 1.5 * 2^23 rounds to an integer (round to nearest) */
    const float n0 = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float n = n0 == n0 ? n0 : 0.0f; /* NaN: n = 0 (r stays NaN) */
    float r = x - n * 0.693359375f; /* exact: 0.693359375 has 9 significant bits */
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    const int32_t k = (int32_t)n; /* in [-150, 128] */
    const int32_t k1 = k / 2;
    union { uint32_t u; float f; } s1 = {(uint32_t)(k1 + 127) << 23};
    union { uint32_t u; float f; } s2 = {(uint32_t)(k - k1 + 127) << 23};
    return p * s1.f * s2.f;
}
