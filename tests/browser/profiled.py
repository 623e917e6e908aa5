"""A tiny model with one "profile" fusion, measured on this machine into the service's
profiling database by ``dnnfusion profile --device host`` (the user's own command); a second,
simulated device class's entries of the same fusion for the page's per-class chart."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.browser.server import CLI
from tests.service.procs import REPO

OPS = "Reshape | MatMul+Add"  # Reorganize followed by Many-to-Many + One-to-One: a "profile" cell


def reshape_matmul_model(path: Path, rows: int = 1) -> Path:
    """x float32[rows, 8, 8] -> Reshape [rows, 64] -> MatMul W[64, 64] -> Add b[64] ->
    y[rows, 64] (one fusion signature per ``rows``, one structure for all)."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((64, 64)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.standard_normal(64).astype(np.float32), "B"),
        numpy_helper.from_array(np.array([rows, 64], np.int64), "S"),
    ]
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["x", "S"], ["r"], name="reshape"),
            helper.make_node("MatMul", ["r", "W"], ["m"], name="matmul"),
            helper.make_node("Add", ["m", "B"], ["y"], name="add"),
        ],
        "reshape_matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [rows, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [rows, 64])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.save(model, path)
    return path


def profile_into(data_dir: Path, *models: Path) -> str:
    """``dnnfusion profile --device host --model MODEL...`` into the service's SQLite database;
    its stdout (one line per measured fusion)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DNNFUSION_") and k != "DATABASE_URL"}
    env["DNNFUSION_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [*CLI, "profile", "--device", "host", *(a for m in models for a in ("--model", str(m))),
         "--min-ms", "5"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout + done.stderr


def copy_to_device_class(data_dir: Path, structure_key: str, class_key: str,
                         factor: float) -> int:
    """Entries of ``structure_key`` as a device class ``class_key`` would have measured them
    (every latency times ``factor``), written to the service's database the way agent results
    end up there (a row per signature); the number of entries added."""
    from sqlalchemy import select

    from dnfstore.db import make_engine, make_sessionmaker
    from dnfstore.profiling_models import DeviceClass, ProfileEntry
    from dnfstore.settings import Settings

    db = (data_dir / "dnnfusion.db").absolute()  # the service's file, whatever $DATABASE_URL says
    engine = make_engine(Settings(data_dir=data_dir, database_url=f"sqlite:///{db}"))
    try:
        with make_sessionmaker(engine)() as s:
            found = s.scalars(select(ProfileEntry).where(
                ProfileEntry.structure_key == structure_key)).all()
            dc = DeviceClass(key=class_key, cpu_model="simulated", isa="armv8.2-a", cores=8)
            s.add(dc)
            s.flush()
            for e in found:
                s.add(ProfileEntry(
                    device_class_id=dc.id, signature=e.signature, structure_key=e.structure_key,
                    codegen_version=e.codegen_version, threads=e.threads, ops=e.ops,
                    mapping=e.mapping, dtype=e.dtype, shapes=e.shapes,
                    fused_us=[x * factor for x in e.fused_us],
                    separate_us=[x * factor for x in e.separate_us],
                    fused_median_us=e.fused_median_us * factor,
                    fused_p10_us=e.fused_p10_us * factor, fused_p90_us=e.fused_p90_us * factor,
                    fused_count=e.fused_count,
                    separate_median_us=e.separate_median_us * factor,
                    separate_p10_us=e.separate_p10_us * factor,
                    separate_p90_us=e.separate_p90_us * factor,
                    separate_count=e.separate_count, spread=e.spread, agent="simulated"))
            s.commit()
            return len(found)
    finally:
        engine.dispose()
