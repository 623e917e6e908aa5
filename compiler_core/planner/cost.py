"""Profitability of "profile" cells (DNNFusion §4.3): fused latency vs. separate latencies.

``CostModel`` is the interface the planner asks; the default :class:`AnalyticCostModel` is a
roofline estimate (bytes moved and FLOPs against configurable machine rates). The measured
profiling database plugs in behind the same interface.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from compiler_core.ir.boundary import boundary
from compiler_core.ir.ecg import ECG
from compiler_core.ir.mapping import MappingType


@dataclass(frozen=True)
class Profitability:
    """Latency estimates in microseconds for one fusion decision.

    ``source``: ``measured`` (a profiling-database entry of this exact fusion signature),
    ``nearest`` (the entry of the nearest measured shapes), ``analytic`` (the roofline model)
    or another cost model's name; ``entry_id``: the database entry that decided, if any;
    ``fuse``: the decision when the cost model states it (a measured tie within the noise),
    else fused < separate.
    """

    fused_us: float
    separate_us: float
    source: str
    entry_id: int | None = None
    fuse: bool | None = None

    @property
    def profitable(self) -> bool:
        return self.fuse if self.fuse is not None else self.fused_us < self.separate_us


class CostModel(Protocol):
    """Anything that can tell whether fusing two node sets pays off."""

    name: str

    def profitability(
        self, ecg: ECG, first: Collection[int], second: Collection[int]
    ) -> Profitability:
        """Compare one kernel for ``first ∪ second`` with one kernel each (node indices)."""
        ...


@dataclass(frozen=True)
class MachineRates:
    """Rates of the analytic model. Defaults describe a mid-range phone CPU core pair.

    ``bandwidth_gb_s``: sustained memory bandwidth (GB/s = 1e3 bytes/µs); ``gflops``: sustained
    float32 throughput (GFLOP/s = 1e3 FLOP/µs); ``launch_us``: fixed cost of one kernel (µs);
    ``cache_bytes``: bytes an intermediate may have and still stay in cache inside a kernel.
    """

    bandwidth_gb_s: float = 10.0
    gflops: float = 20.0
    launch_us: float = 2.0
    cache_bytes: int = 1 << 20


@dataclass(frozen=True)
class BlockTraffic:
    """Bytes a kernel for a node set moves: inputs read (compile-time parameters are not),
    outputs written, spilled intermediates (an intermediate read by a One-to-Many operator in
    another index space, too big for cache, is written and read again), and its FLOPs."""

    input_bytes: int
    output_bytes: int
    spill_bytes: int
    flops: int

    @property
    def total_bytes(self) -> int:
        return self.input_bytes + self.output_bytes + self.spill_bytes


def block_traffic(ecg: ECG, nodes: Collection[int], cache_bytes: int = 1 << 20) -> BlockTraffic:
    """Memory traffic of one kernel computing ``nodes`` (indices into ``ecg.nodes``): the
    inputs, outputs and internal values of its :func:`~compiler_core.ir.boundary.boundary`."""
    b = boundary(ecg, nodes)
    spill = 0
    for v in b.internal:
        nbytes = ecg.value_bytes[v]
        if nbytes > cache_bytes and any(
            ecg.info[u].mapping_type is MappingType.ONE_TO_MANY for u in ecg.value_consumers[v]
        ):
            spill += 2 * nbytes
    return BlockTraffic(
        input_bytes=sum(ecg.value_bytes[v] for v in b.inputs),
        output_bytes=sum(ecg.value_bytes[v] for v in b.outputs),
        spill_bytes=spill,
        flops=sum(ecg.info[i].flops for i in set(nodes)),
    )


@dataclass
class AnalyticCostModel:
    """Roofline latency: ``launch + max(bytes / bandwidth, flops / peak)`` per kernel."""

    rates: MachineRates = MachineRates()
    name: str = "analytic"

    def kernel_us(self, ecg: ECG, nodes: Collection[int]) -> float:
        """Estimated latency (µs) of one kernel computing ``nodes``."""
        t = block_traffic(ecg, nodes, self.rates.cache_bytes)
        mem_us = t.total_bytes / (self.rates.bandwidth_gb_s * 1e3)
        compute_us = t.flops / (self.rates.gflops * 1e3)
        return self.rates.launch_us + max(mem_us, compute_us)

    def profitability(
        self, ecg: ECG, first: Collection[int], second: Collection[int]
    ) -> Profitability:
        fused = self.kernel_us(ecg, set(first) | set(second))
        separate = self.kernel_us(ecg, first) + self.kernel_us(ecg, second)
        return Profitability(fused_us=fused, separate_us=separate, source=self.name)
