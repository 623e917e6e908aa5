"""How far apart two CPUs are: the round trip of one cache line bounced between them.

    python -m bench.core_link

Two threads pinned to CPUs 0 and 1 hand a flag back and forth (C11 atomics, 200 000 round
trips); the result is ns per round trip. On a virtual machine the host decides where the two
vCPUs run, and it moves them: on the 2-vCPU AMD EPYC (Zen 5) of 2026-12-01 the round trip
was 82-96 ns in some minutes and 380 ns in others, and 2-thread runs of light SqueezeNet took
1.55-1.6 ms in the first state and 2.5 ms in the second (1-thread runs 3.0 ms in both, and two
1-thread runs side by side kept their speed: the cores were not shared, their link was
slower). ``bench.latency`` records it before and after its runs, so a 2-thread table can be
read against the state it was measured in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROUND_TRIPS = 200_000

_SOURCE = r"""
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#define N @N@
static _Alignas(64) atomic_int flag;
static void pin(int c) {
    cpu_set_t s; CPU_ZERO(&s); CPU_SET(c, &s);
    pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}
static void* other(void* unused) {
    (void)unused; pin(1);
    for (int i = 0; i < N; i++) {
        while (atomic_load_explicit(&flag, memory_order_acquire) != 1) {}
        atomic_store_explicit(&flag, 0, memory_order_release);
    }
    return 0;
}
int main(void) {
    pthread_t t; struct timespec a, b;
    pin(0);
    pthread_create(&t, 0, other, 0);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < N; i++) {
        atomic_store_explicit(&flag, 1, memory_order_release);
        while (atomic_load_explicit(&flag, memory_order_acquire) != 0) {}
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    pthread_join(t, 0);
    printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / N);
    return 0;
}
"""


def round_trip_ns(timeout_s: float = 30.0) -> float | None:
    """ns per round trip of a cache line between CPUs 0 and 1; None when this machine has
    fewer than 2 CPUs or no C compiler (``$CC`` or ``cc``), or the probe fails."""
    if (os.cpu_count() or 1) < 2:
        return None
    cc = os.environ.get("CC") or shutil.which("cc")
    if not cc:
        return None
    with tempfile.TemporaryDirectory(prefix="dnf-core-link-") as tmp:
        src, exe = Path(tmp) / "link.c", Path(tmp) / "link"
        src.write_text(_SOURCE.replace("@N@", str(ROUND_TRIPS)))
        try:
            subprocess.run([cc, "-O2", "-pthread", str(src), "-o", str(exe)], check=True,
                           capture_output=True, timeout=timeout_s)
            out = subprocess.run([str(exe)], check=True, capture_output=True, text=True,
                                 timeout=timeout_s).stdout
            return float(out.strip())
        except (OSError, subprocess.SubprocessError, ValueError):
            return None


def main() -> int:
    ns = round_trip_ns()
    print("core link: not measurable here" if ns is None
          else f"core link: {ns:.0f} ns per round trip between CPUs 0 and 1")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
