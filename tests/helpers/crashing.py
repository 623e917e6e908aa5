"""Models and libraries that crash whatever process runs them, for the sandbox tests.

- :func:`int_min_div_model`: ``Div(amin, Sub(b, two))`` in int32 with ``amin = -2**31``: with
  ``b = 1`` the divisor is -1, so INT_MIN / -1, which traps (SIGFPE) on x86-64 unless the
  generated code guards it. ONNX Runtime computes it without trapping.
- :func:`zero_div_model`: the same with ``Sub(b, one)``: ``b = 1`` divides by zero (ONNX
  Runtime refuses it with an exception).
- :func:`build_fake_library`: a stand-in model.so with the C entry points of a host artifact
  whose ``dnf_run`` walks its blocks (storing each index through ``dnf_set_trace`` when built
  with ``trace=True``) and crashes in one of them.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Every input element the validation draws is 0 or 1 (compiler_core.runtime.validate.random_feeds); 16
# of them with seed 0 include a 1, which the tests check.
N = 16


def _div_model(subtrahend: int) -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Sub", ["b", "k"], ["d"]), helper.make_node("Div", ["amin", "d"], ["y"])],
        "trap",
        [helper.make_tensor_value_info("b", TensorProto.INT32, [N])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [N])],
        [
            numpy_helper.from_array(np.array([-(2**31)], np.int32), "amin"),
            numpy_helper.from_array(np.array([subtrahend], np.int32), "k"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def int_min_div_model() -> onnx.ModelProto:
    """INT_MIN / -1 where the random input is 1."""
    return _div_model(2)


def zero_div_model() -> onnx.ModelProto:
    """A division by zero where the random input is 1."""
    return _div_model(1)


FAKE_LIBRARY_C = r"""
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
static volatile int32_t* trace_slot;
int dnf_abi_version(void) { return 1; }
int dnf_num_blocks(void) { return NBLOCKS; }
void* dnf_create(const char* weights) {
    (void)weights;
    if (CRASH_BLOCK == -1) *(volatile int*)0 = 1;  /* crash while loading */
    return malloc(16);
}
void dnf_destroy(void* h) { free(h); }
int dnf_set_num_threads(void* h, int n) { (void)h; (void)n; return 0; }
int dnf_default_num_threads(void) { return 1; }
#if WITH_TRACE
void dnf_set_trace(volatile int32_t* slot) { trace_slot = slot; }
#endif
static int run(void) {
    for (int b = 0; b < NBLOCKS; b++) {
        if (trace_slot) *trace_slot = b;
        if (b == CRASH_BLOCK) {
            if (HANG) for (;;) {}
            *(volatile int*)0 = 1;  /* SIGSEGV */
        }
    }
    if (trace_slot) *trace_slot = -1;
    return 0;
}
int dnf_run(void* h, const void* const* in, void* const* out) {
    (void)h; (void)in; (void)out; return run();
}
int dnf_run_profiled(void* h, const void* const* in, void* const* out, double* us) {
    (void)us; return dnf_run(h, in, out);
}
"""


def build_fake_library(out: Path, *, blocks: int, crash_block: int, trace: bool,
                       hang: bool = False) -> Path:
    """Build the stand-in library at ``out``. ``crash_block``: the block index whose run
    crashes (SIGSEGV, or loops forever with ``hang``); -1 crashes in ``dnf_create``."""
    src = out.with_suffix(".c")
    src.write_text(FAKE_LIBRARY_C)
    defines = [f"-DNBLOCKS={blocks}", f"-DCRASH_BLOCK={crash_block}",
               f"-DWITH_TRACE={int(trace)}", f"-DHANG={int(hang)}"]
    subprocess.run(["cc", "-shared", "-fPIC", "-O0", *defines, "-o", str(out), str(src)],
                   check=True, capture_output=True, timeout=120)
    src.unlink()
    return out


def replace_library(artifact: Path, library: Path) -> None:
    """Put ``library`` in place of the artifact's model.so, with its checksum in the manifest."""
    target = artifact / "model.so"
    target.write_bytes(library.read_bytes())
    manifest = json.loads((artifact / "manifest.json").read_text())
    manifest["files"]["model.so"] = hashlib.sha256(target.read_bytes()).hexdigest()
    (artifact / "manifest.json").write_text(json.dumps(manifest, indent=1))


FAKE_RUNNER_C = r"""
#include <stdio.h>
#include <string.h>
int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "--check") == 0) { printf("blocks 2\n"); return 0; }
    *(volatile int*)0 = 1;  /* SIGSEGV on every run */
    return 0;
}
"""


def replace_runner(artifact: Path, cross_cc: str) -> None:
    """Put a static aarch64 runner that answers ``--check`` and crashes on every run in place
    of the artifact's model.run, with its checksum in the manifest."""
    src = artifact / "fake_runner.c"
    src.write_text(FAKE_RUNNER_C)
    target = artifact / "model.run"
    subprocess.run([cross_cc, "-static", "-O0", "-o", str(target), str(src)], check=True,
                   capture_output=True, timeout=120)
    src.unlink()
    manifest = json.loads((artifact / "manifest.json").read_text())
    manifest["files"]["model.run"] = hashlib.sha256(target.read_bytes()).hexdigest()
    (artifact / "manifest.json").write_text(json.dumps(manifest, indent=1))
