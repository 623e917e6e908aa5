"""The one place the workers call the compiler.

``compiler_core`` is imported lazily, at call time: the API process never loads it, and a build
without the compiler still runs the whole job pipeline, ending each job ``failed`` with
"compiler not available in this build".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler_core.errors import DnnFusionError

NOT_AVAILABLE = "compiler not available in this build"


def _compile_model() -> Callable[..., Path]:
    import compiler_core

    try:
        fn = getattr(compiler_core, "compile_model", None)
    except ImportError as err:  # the compiler is there but cannot load (a missing dependency)
        raise DnnFusionError(f"{NOT_AVAILABLE} ({err})") from None
    if fn is None:
        raise DnnFusionError(NOT_AVAILABLE)
    return fn


@dataclass
class ProfileUse:
    """Whose profiling data decides a plan, for the compile cache. ``fingerprint(class_key)``
    reads the class's data as it is before planning; :func:`run_compiler` fills in
    ``device_class`` and ``profile_fingerprint``, or leaves both None when the plan was decided
    without the database (analytic), fully or partly (a database error during planning)."""

    fingerprint: Callable[[str], str]
    device_class: str | None = None
    profile_fingerprint: str | None = None


def run_compiler(
    model_path: Path,
    *,
    input_shapes: dict[str, list[int]],
    target: str,
    options: dict[str, Any],
    output_dir: Path,
    progress: Callable[[str], None],
    memory_limit_bytes: int | None = None,
    test_delay_s: float = 0.0,
    device_class: str | None = None,
    database_url: str | None = None,
    profile_use: ProfileUse | None = None,
) -> Path:
    """Compile ``model_path`` into ``output_dir``; returns the artifact directory.

    "profile" fusions are decided by the profiling database at ``database_url`` (the
    service's) with the measurements of ``device_class`` (None: the target's default); when
    it cannot be used, by the analytic model (``profiling.choose``).

    ``memory_limit_bytes`` (setting ``DNNFUSION_MEMORY_LIMIT_BYTES``) caps the job's own
    ``memory_limit_bytes`` option: a job may lower the limit, never raise it.
    The compiler runs the artifact only in its validation sandbox (a child process under
    limits), so a model whose code crashes fails its job with the reason instead of killing
    this worker.

    ``profile_use``: filled in with the class and its profiling data's fingerprint (read
    before planning), see :class:`ProfileUse`.

    ``test_delay_s`` (setting ``DNNFUSION_TEST_COMPILE_DELAY_S``) is for TESTS ONLY: it sleeps
    before calling the compiler so a test can kill a worker in the middle of a task.
    """
    if test_delay_s > 0:
        time.sleep(test_delay_s)
    compile_model = _compile_model()
    shapes = {name: tuple(int(d) for d in dims) for name, dims in input_shapes.items()}
    # The service always checks the artifact against ONNX Runtime (max error and both
    # latencies in the report) unless the user turned it off.
    options = {"compare_with_onnxruntime": True, **(options or {})}
    if memory_limit_bytes is not None:
        asked = options.get("memory_limit_bytes")
        options["memory_limit_bytes"] = (
            memory_limit_bytes if not isinstance(asked, int) or isinstance(asked, bool)
            else min(asked, memory_limit_bytes)
        )
    from profiling.choose import choose_cost_model

    choice = choose_cost_model(target=target, device_class=device_class, url=database_url)
    try:
        fingerprint = None
        if profile_use is not None and choice.device_class is not None:
            fingerprint = profile_use.fingerprint(choice.device_class)
        artifact = Path(
            compile_model(
                model_path,
                shapes or None,
                target,
                output_dir=output_dir,
                options=options or None,
                progress=progress,
                cost_model=choice.cost_model,
            )
        )
        if profile_use is not None and not getattr(choice.cost_model, "warnings", None):
            profile_use.device_class, profile_use.profile_fingerprint = (
                choice.device_class, fingerprint)
        return artifact
    finally:
        choice.finish()
