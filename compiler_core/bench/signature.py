"""Fusion signature: what identifies one micro-benchmark of a "profile" candidate.

A candidate is a producer side ``first`` (a block so far) and a consumer side ``second`` (the
operator or block it may absorb), as node indices of an ECG. Two candidates share a
benchmark, and hence a measurement, when they generate the same kernels on inputs of the same
shapes. The signature lists, in this order:

- ``version``: :data:`CODEGEN_VERSION` (bump it when kernels change: old numbers stop deciding);
- ``threads``: the OpenMP thread count of the measurement;
- ``dtype``: the dtype of the first side's first output (numpy name);
- ``structure``: per node, in topological order and side by side (``first`` then ``second``):
  op type, mapping type, every attribute (name and value: ONNX has no attribute that leaves
  the kernel unchanged for all operators), and each input as a reference: an output of an
  earlier candidate node, an external tensor (numbered in order of first use), or a constant
  (its dtype and rank; the values of float constants with at most 16 elements too, since they
  change the code, e.g. ``Pow(x, 2)``);
- ``shapes``: the shape of every external input, constant and node output, in the order the
  structure mentions them, plus the values of integer constants with at most 16 elements
  (Reshape targets, Slice bounds: they follow the shapes).

``key`` hashes all of it (exact lookups); ``structure_key`` hashes everything but ``shapes``
(the nearest-shape lookup compares shapes of entries with the same ``structure_key``).
Hashes are sha256 hex digests of a canonical JSON text, stable across processes and machines.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from compiler_core.ir.ecg import ECG, is_constant, value_shape
from compiler_core.version import CODEGEN_VERSION  # also read from here by other modules

SMALL_CONSTANT = 16  # elements of a constant whose values enter the signature


@dataclass(frozen=True)
class FusionSignature:
    """The identity of one fused-vs-separate micro-benchmark (see the module docstring)."""

    key: str  # sha256 hex of everything
    structure_key: str  # sha256 hex of everything but the shapes
    ops: str  # readable: "Conv+Relu | Add" (first side | second side)
    mapping: str  # readable mapping types: "M2M | O2M"
    dtype: str
    threads: int
    version: int
    structure: tuple  # JSON-able canonical form (nested lists)
    shapes: tuple[tuple[int, ...], ...]  # every shape of the candidate, in structure order
    int_constants: tuple[tuple[int, ...], ...]  # values of small integer constants

    def readable(self) -> dict:
        """The parts stored next to the hash in the profiling database."""
        return {
            "ops": self.ops,
            "mapping": self.mapping,
            "dtype": self.dtype,
            "threads": self.threads,
            "version": self.version,
            "shapes": [list(s) for s in self.shapes],
        }


def _attr_value(attr: ir.Attr) -> object:
    v = attr.value
    if isinstance(v, (ir.Graph, ir.Function)) or hasattr(v, "nodes"):
        return f"<graph {attr.name}>"
    if hasattr(v, "numpy"):
        arr = np.asarray(v.numpy())
        return [str(arr.dtype), list(arr.shape), arr.ravel()[:64].tolist()]
    if isinstance(v, (list, tuple)):
        return [x if isinstance(x, (int, float, str)) else str(x) for x in v]
    if isinstance(v, (int, float, str)) or v is None:
        return v
    return str(v)


def _dtype_name(v: ir.Value) -> str:
    dt = v.dtype
    if dt is None:
        return "?"
    try:
        return np.dtype(dt.numpy()).name
    except (TypeError, ValueError, AttributeError):
        return str(dt)


def _hash(obj: object) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def fusion_signature(
    ecg: ECG, first: Collection[int], second: Collection[int], threads: int
) -> FusionSignature:
    """The signature of fusing node sets ``first`` and ``second`` (indices into
    ``ecg.nodes``) measured with ``threads`` OpenMP threads. Raises
    :class:`~compiler_core.errors.ShapeError` on a tensor without a static shape."""
    sides = [sorted(first), sorted(second)]
    produced: dict[ir.Value, tuple[int, int]] = {}
    external: dict[ir.Value, int] = {}
    structure: list = []
    shapes: list[tuple[int, ...]] = []
    int_consts: list[tuple[int, ...]] = []
    pos = 0
    for side, members in enumerate(sides):
        for i in members:
            node = ecg.nodes[i]
            refs: list = []
            for v in node.inputs:
                if v is None:
                    refs.append(None)
                elif v in produced:
                    refs.append(["n", *produced[v]])
                elif is_constant(v):
                    shape = value_shape(v)
                    shapes.append(shape)
                    ref: list = ["c", _dtype_name(v), len(shape)]
                    if v.const_value is not None and int(np.prod(shape)) <= SMALL_CONSTANT:
                        arr = np.asarray(v.const_value.numpy())
                        if arr.dtype.kind == "f":
                            ref.append([float(x) for x in arr.ravel()])
                        else:
                            int_consts.append(tuple(int(x) for x in arr.ravel()))
                    refs.append(ref)
                else:
                    if v not in external:
                        external[v] = len(external)
                        shapes.append(value_shape(v))
                    refs.append(["x", external[v], _dtype_name(v), len(value_shape(v))])
            for k, v in enumerate(node.outputs):
                produced[v] = (pos, k)
                shapes.append(value_shape(v) if v.shape is not None else ())
            attrs = sorted((a.name, _attr_value(a)) for a in node.attributes.values())
            structure.append([side, node.domain or "", node.op_type,
                              ecg.info[i].mapping_type.value, attrs, refs, len(node.outputs)])
            pos += 1
    out0 = ecg.nodes[sides[0][0]].outputs[0] if sides[0] else None
    dtype = _dtype_name(out0) if out0 is not None else "?"
    head = {"version": CODEGEN_VERSION, "threads": int(threads), "dtype": dtype,
            "structure": structure}
    structure_key = _hash(head)
    key = _hash({**head, "shapes": shapes, "int_constants": int_consts})
    ops = " | ".join("+".join(ecg.nodes[i].op_type for i in m) for m in sides)
    mapping = " | ".join(
        "+".join(ecg.info[i].mapping_type.short for i in m) for m in sides
    )
    return FusionSignature(
        key=key,
        structure_key=structure_key,
        ops=ops,
        mapping=mapping,
        dtype=dtype,
        threads=int(threads),
        version=CODEGEN_VERSION,
        structure=tuple(structure),
        shapes=tuple(shapes),
        int_constants=tuple(int_consts),
    )
