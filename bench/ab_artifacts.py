"""A/B two compiled artifacts of the same model in one process: same inputs, alternating blocks.

    python -m bench.ab_artifacts ARTIFACT_A ARTIFACT_B [--threads 2] [--rounds 12] [--block 4]
                                 [--zoo NAME]

Both are loaded with :class:`compiler_core.runtime.InferenceSession`; each round runs one
untimed lead-in then ``block`` timed runs of each artifact, the order flipping every round.
Prints the largest difference between their outputs and the median (and minimum) latencies
(ms) with B/A. Inputs: random (integers 0 or 1), or with ``--zoo NAME`` the zoo entry's
``random_inputs(seed=0)``, the inputs ``bench.latency`` times (a transformer's attention mask
then covers a valid prefix).
Use it when two builds of one model must be compared on a machine whose speed drifts between
runs (timing them in separate processes is not comparable then).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from compiler_core.runtime import InferenceSession
from compiler_core.runtime.validate import random_feeds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ab_artifacts", description=__doc__.split("\n")[0])
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--block", type=int, default=4)
    p.add_argument("--zoo", help="inputs of this zoo model (bench.zoo) instead of random ones")
    args = p.parse_args(argv)
    a = InferenceSession(args.a, threads=args.threads)
    b = InferenceSession(args.b, threads=args.threads)
    if args.zoo:
        from bench.zoo import ZOO

        feeds = ZOO[args.zoo].random_inputs(seed=0)
    else:
        feeds = random_feeds(a.get_inputs(), 0)
    diff = max(float(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)).max(initial=0.0))
               for x, y in zip(a.run(None, feeds), b.run(None, feeds), strict=True))
    times: dict[str, list[float]] = {"A": [], "B": []}
    turns = [("A", a), ("B", b)]
    for r in range(args.rounds):
        for name, sess in turns if r % 2 == 0 else turns[::-1]:
            sess.run(None, feeds)
            for _ in range(args.block):
                t0 = time.perf_counter()
                sess.run(None, feeds)
                times[name].append((time.perf_counter() - t0) * 1e3)
    ma, mb = statistics.median(times["A"]), statistics.median(times["B"])
    na, nb = min(times["A"]), min(times["B"])
    print(f"max |A-B| {diff:.3g}; A {ma:.3f} ms, B {mb:.3f} ms (median of {len(times['A'])} runs each); B/A {mb / ma:.3f}; "
          f"min A {na:.3f}, B {nb:.3f}, B/A {nb / na:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
