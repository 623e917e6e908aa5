"""Capping what a result post carries so it stays under the service's 1 MiB JSON body cap."""

from __future__ import annotations

# At most this many samples per side are posted: 2 x 20,000 samples of "%.3f" text (about
# 10 bytes each with the separator) is ~400 kB, well under the 1 MiB cap of service.bodylimit.
MAX_POSTED_PER_SIDE = 20_000


def cap_samples(samples, limit: int = MAX_POSTED_PER_SIDE) -> list[float]:
    """An evenly spaced subset of at most ``limit`` samples (µs, rounded to 0.001), in run
    order, always keeping the first and the last; all of them when there are fewer."""
    xs = [round(float(x), 3) for x in samples]
    n = len(xs)
    if n <= limit:
        return xs
    if limit == 1:
        return [xs[0]]
    return [xs[round(i * (n - 1) / (limit - 1))] for i in range(limit)]
