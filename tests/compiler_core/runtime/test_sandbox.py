"""Generated code runs in a child process under limits: a crash, a hang or a memory blow-up
there is a one-line DnnFusionError here, and this (the test) process survives it."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

import compiler_core.codegen.build as build
from compiler_core.compile import compile_model
from compiler_core.errors import (
    ArtifactCrashError,
    DnnFusionError,
    ReferenceRuntimeError,
    SandboxLimitError,
)
from compiler_core.runtime import ArtifactError, sandbox, sandbox_child
from compiler_core.runtime.sandbox import (
    SandboxLimits,
    check_artifact,
    limits_for,
    validate_artifact_sandboxed,
)
from compiler_core.runtime.validate import PHASES
from tests.compiler_core.codegen.util import model, node, plan, vi, weight
from tests.helpers.crashing import (
    build_fake_library,
    int_min_div_model,
    replace_library,
    replace_runner,
    zero_div_model,
)

COMPARE = {"compare_with_onnxruntime": True}


def two_block_model():
    """x[3,4] @ w -> Relu -> @ w2 -> y[3,6]: block 0 (MatMul, Relu), block 1 (MatMul)."""
    nodes = [node("MatMul", ["x", "w"], ["m"]), node("Relu", ["m"], ["r"]),
             node("MatMul", ["r", "w2"], ["y"])]
    return model(nodes, [vi("x", [3, 4])], [vi("y", [3, 6])],
                 [weight("w", [4, 5]), weight("w2", [5, 6], seed=1)])


@pytest.fixture(scope="module")
def two_blocks(tmp_path_factory):
    proto = two_block_model()
    art = compile_model(plan(proto), output_dir=tmp_path_factory.mktemp("sb") / "art")
    blocks = json.loads((art / "manifest.json").read_text())["blocks"]
    assert [b["ops"] for b in blocks] == [["MatMul", "Relu"], ["MatMul"]]
    return art, proto


def crashing_copy(two_blocks, tmp_path, **fake):
    art, proto = two_blocks
    dst = tmp_path / "crash"
    shutil.copytree(art, dst)
    replace_library(dst, build_fake_library(tmp_path / "fake.so", blocks=2, **fake))
    return dst, proto


def one_line(err: BaseException) -> str:
    text = str(err)
    assert text and "\n" not in text and "Traceback" not in text, text
    return text


# ---- (a) the trapping integer models, through compile_model ---------------------------------


def test_int_min_div_model_is_an_error_not_a_crash(tmp_path):
    parent = os.getpid()
    with pytest.raises(DnnFusionError) as info:
        compile_model(int_min_div_model(), output_dir=tmp_path / "a", options=COMPARE)
    text = one_line(info.value)
    # ONNX Runtime computes INT_MIN / -1; our kernel either traps (SIGFPE in the child) or,
    # with defined integer semantics, reports the error: either way it is the compiled model.
    assert "compiled model" in text, text
    assert not isinstance(info.value, ReferenceRuntimeError)
    assert os.getpid() == parent  # still here
    assert not (tmp_path / "a").exists() and list(tmp_path.iterdir()) == []


def test_zero_divisor_model_is_an_error_not_a_crash(tmp_path):
    with pytest.raises(DnnFusionError) as info:
        compile_model(zero_div_model(), output_dir=tmp_path / "a", options=COMPARE)
    text = one_line(info.value)
    assert "division by zero" in text.lower() or "divided by zero" in text.lower(), text
    assert not (tmp_path / "a").exists()


def test_default_validation_only_loads_the_artifact(tmp_path):
    """Without the comparison nothing runs the model: the load check alone passes."""
    art = compile_model(int_min_div_model(), output_dir=tmp_path / "a")
    assert (art / "manifest.json").is_file()


# ---- (b) a library that crashes -------------------------------------------------------------


def test_segfault_names_the_signal_and_the_block(two_blocks, tmp_path):
    art, proto = crashing_copy(two_blocks, tmp_path, crash_block=1, trace=True)
    with pytest.raises(ArtifactCrashError) as info:
        validate_artifact_sandboxed(art, proto, runs=0)
    assert one_line(info.value) == (
        "the compiled model raised SIGSEGV in block 1 (MatMul) (an invalid memory access)")


def test_without_the_trace_hook_the_block_is_left_out(two_blocks, tmp_path):
    art, proto = crashing_copy(two_blocks, tmp_path, crash_block=0, trace=False)
    with pytest.raises(ArtifactCrashError) as info:
        validate_artifact_sandboxed(art, proto, runs=0)
    assert one_line(info.value) == "the compiled model raised SIGSEGV (an invalid memory access)"


def test_crash_while_loading(two_blocks, tmp_path):
    art, _ = crashing_copy(two_blocks, tmp_path, crash_block=-1, trace=True)
    with pytest.raises(ArtifactCrashError, match="^the compiled model raised SIGSEGV while "
                       "loading"):
        check_artifact(art)


def test_compile_model_reports_the_crash_and_publishes_nothing(tmp_path, monkeypatch):
    real = build.build_target

    def build_then_swap(target, source, out_path, **kw):
        info = real(target, source, out_path, **kw)
        build_fake_library(tmp_path / "fake.so", blocks=2, crash_block=0, trace=True)
        out_path.write_bytes((tmp_path / "fake.so").read_bytes())
        return info

    monkeypatch.setattr(build, "build_target", build_then_swap)
    out = tmp_path / "out" / "art"
    with pytest.raises(ArtifactCrashError, match=r"raised SIGSEGV in block 0 \(MatMul, Relu\)"):
        compile_model(two_block_model(), output_dir=out, options={**COMPARE, "rewrite": False})
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_hang_is_killed_at_the_wall_clock_limit(two_blocks, tmp_path):
    art, proto = crashing_copy(two_blocks, tmp_path, crash_block=1, trace=True, hang=True)
    limits = limits_for(art, compare=True, timeout_s=3)
    t0 = time.monotonic()
    with pytest.raises(SandboxLimitError) as info:
        validate_artifact_sandboxed(art, proto, runs=0, limits=limits)
    assert time.monotonic() - t0 < 30
    assert one_line(info.value).startswith(
        "the compiled model did not finish within the validation time limit of 3 s")


def test_address_space_limit_is_a_resource_error(two_blocks):
    art, proto = two_blocks
    tiny = SandboxLimits(address_space_bytes=64 * 1024**2, cpu_seconds=60, timeout_s=60)
    with pytest.raises(SandboxLimitError) as info:
        validate_artifact_sandboxed(art, proto, runs=0, limits=tiny)
    assert one_line(info.value) == (
        "validation ran out of its address-space limit of 64.0 MiB; "
        "set $DNNFUSION_VALIDATION_ADDRESS_SPACE_BYTES")


def test_child_errors_come_back_with_their_type_and_message(two_blocks, tmp_path):
    art, _ = two_blocks
    bad = tmp_path / "bad"
    shutil.copytree(art, bad)
    (bad / "weights.bin").write_bytes(b"\0" * 8)
    with pytest.raises(ArtifactError, match="weights.bin") as info:
        check_artifact(bad)
    assert type(info.value) is ArtifactError
    one_line(info.value)


def test_sound_artifact_validates_in_the_sandbox(two_blocks):
    art, proto = two_blocks
    v = validate_artifact_sandboxed(art, proto, runs=4, threads=1)
    assert v.within_tolerance and v.max_abs_error < 1e-4
    assert v.latency_ms > 0 and v.ort_latency_ms > 0 and v.threads == 1


def test_reference_error_is_one_line_in_process_too():
    """The in-process API maps ONNX Runtime's own exceptions as well."""
    import onnxruntime.capi.onnxruntime_pybind11_state as ort_state

    from compiler_core.runtime.validate import onnxruntime_errors

    with (pytest.raises(ReferenceRuntimeError, match="ONNX Runtime failed .*: boom second"),
          onnxruntime_errors()):
        raise ort_state.Fail("boom\nsecond line")


def test_limits_estimate_and_environment(two_blocks, monkeypatch):
    art, _ = two_blocks
    base = sandbox.BASE_ADDRESS_SPACE
    assert base < limits_for(art, compare=False).address_space_bytes
    assert (limits_for(art, compare=False).address_space_bytes
            < limits_for(art, compare=True).address_space_bytes)
    monkeypatch.setenv(sandbox.ADDRESS_SPACE_ENV, str(3 * 1024**3))
    monkeypatch.setenv(sandbox.TIMEOUT_ENV, "12.5")
    limits = limits_for(art, compare=True)
    assert (limits.address_space_bytes, limits.timeout_s) == (3 * 1024**3, 12.5)
    monkeypatch.setenv(sandbox.TIMEOUT_ENV, "soon")
    with pytest.raises(DnnFusionError, match="DNNFUSION_VALIDATION_TIMEOUT_S must be a positive"):
        limits_for(art, compare=True)


def test_child_phases_follow_validate():
    phases = sandbox_child.PHASES
    assert phases == ("starting", *PHASES)


@pytest.mark.slow
def test_arm64_runner_crash_is_mapped_the_same_way(tmp_path):
    """linux-arm64: the runner is a process of its own (under qemu-aarch64 here), started by
    the sandbox child; its signal becomes the same one-line error."""
    from compiler_core.target.targets import TARGETS

    arm = TARGETS["linux-arm64"]
    assert shutil.which(arm.compiler()[0]), "no aarch64 cross compiler: run scripts/setup-apt.sh"
    assert arm.launcher() is not None, "no qemu-aarch64: run scripts/setup-apt.sh"
    proto = two_block_model()
    art = compile_model(proto, target="linux-arm64", output_dir=tmp_path / "arm")
    replace_runner(art, arm.compiler()[0])
    with pytest.raises(ArtifactCrashError) as info:
        validate_artifact_sandboxed(art, proto, runs=0)
    assert one_line(info.value) == "the compiled model raised SIGSEGV"


def test_packed_artifact_validates_in_the_sandbox(two_blocks, tmp_path):
    from compiler_core.compile import pack_artifact

    art, proto = two_blocks
    packed = pack_artifact(art, tmp_path / "art.tar.gz")
    assert limits_for(packed, compare=True).address_space_bytes > sandbox.BASE_ADDRESS_SPACE
    assert validate_artifact_sandboxed(packed, proto, runs=0).within_tolerance


def test_model_runtime_error_keeps_its_block(tmp_path):
    """An error the compiled code reports (not a crash) comes back with its type, message and
    attributes (compiler_core.codegen.checks: INT_MIN / -1 in the Div block)."""
    from compiler_core.errors import ModelRuntimeError

    art = compile_model(int_min_div_model(), output_dir=tmp_path / "a")
    with pytest.raises(ModelRuntimeError) as info:
        validate_artifact_sandboxed(art, int_min_div_model(), runs=0)
    blocks = json.loads((art / "manifest.json").read_text())["blocks"]
    assert info.value.block >= 0 and "Div" in blocks[info.value.block]["ops"]
    assert f"in block {blocks[info.value.block]['id']}" in one_line(info.value)
