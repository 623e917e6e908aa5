"""Blocks below the mapping-type floor (issue #13): a pass over the finished plan.

The floor counts every Many-to-Many operator as its own kernel. This pass makes one block of
each recognized attention chain (:mod:`compiler_core.planner.attention`: scores, softmax and
P·V in one kernel, 3 floor kernels), then one block of each set of sibling GEMMs on one input
(:mod:`compiler_core.planner.horizontal`: one sgemm on concatenated weights), and records them
in ``BlockGraph.special`` (group id -> the pattern; :func:`kind` names the block kind,
``"attention"`` or ``"horizontal"``), and last takes each Concat whose inputs can be written
straight into its output out of its block (:mod:`compiler_core.planner.concat_view`: a block
of kind ``"concat_in_place"`` that computes nothing). The nodes the new block takes are
removed from the blocks that held them; what remains of each such block stays one block. The
block graph is rebuilt from the final partition with the same acyclicity checks as the
planner's merges; a chain whose block would close a cycle is left as planned.
"""

from __future__ import annotations

from compiler_core.ir.ecg import ECG
from compiler_core.ir.mapping import most_complex
from compiler_core.planner.attention import Attention, find_attention
from compiler_core.planner.blocks import BlockGraph
from compiler_core.planner.concat_view import ConcatInPlace, find_concats_in_place
from compiler_core.planner.horizontal import Horizontal, find_horizontal


def kind(pattern) -> str:
    """The block kind of a pattern in ``BlockGraph.special``."""
    if isinstance(pattern, ConcatInPlace):
        return "concat_in_place"
    return "attention" if isinstance(pattern, Attention) else "horizontal"


def _rebuild(ecg: ECG, parts: list[tuple[list[int], object | None]]) -> BlockGraph | None:
    """A block graph with one group per ``parts`` entry (members, special pattern or None),
    or None when some group would close a cycle."""
    bg = BlockGraph(ecg)
    for members, pattern in parts:
        if not members:
            continue
        g = bg.group_of[members[0]]
        for i in members[1:]:
            h = bg.group_of[i]
            if not bg.can_merge(g, h):
                return None
            g = bg.merge(g, h, bg.mtype[g])
        bg.mtype[g] = most_complex([ecg.info[i].mapping_type for i in members])
        bg.seeded[g] = len(members) > 1 or pattern is not None
        if pattern is not None:
            bg.special[g] = pattern
    return bg


def _parts(bg: BlockGraph) -> list[tuple[list[int], object | None]]:
    return [(bg.sorted_members(g), bg.special.get(g)) for g in bg.groups_in_order()]


def apply_attention(ecg: ECG, bg: BlockGraph) -> tuple[BlockGraph, list[Attention]]:
    """``bg`` with every attention chain of ``ecg`` as one block; returns the new block graph
    and the chains made blocks (the others stay as planned)."""
    done: list[Attention] = []
    for att in find_attention(ecg):
        take = set(att.nodes)
        if any(bg.special.get(bg.group_of[i]) is not None for i in take):
            continue
        parts = [([i for i in m if i not in take], p) for m, p in _parts(bg)]
        parts.append((sorted(take), att))
        new = _rebuild(ecg, _rehome(ecg, parts, take)) or _rebuild(ecg, parts)
        if new is None:
            continue
        bg = new
        done.append(att)
    return bg, done


def _rehome(ecg: ECG, parts: list[tuple[list[int], object | None]],
            taken: set[int]) -> list[tuple[list[int], object | None]]:
    """``parts`` with the orphaned epilogues moved home: a One-to-One node left in a block
    that lost nodes to an attention block, whose one computed input is the output of a
    MatMul in another block read by nobody else (a projection's bias addition the planner had
    put in the scores' prologue), joins that MatMul's block."""
    where = {i: k for k, (m, _) in enumerate(parts) for i in m}
    lost = {where[p] for i in taken for p in ecg.producers[i] if p in where}
    moves: dict[int, int] = {}
    for k in lost:
        for n in parts[k][0]:
            if ecg.info[n].mapping_type.value != "One-to-One" or len(ecg.producers[n]) != 1:
                continue
            (m,) = ecg.producers[n]
            y = ecg.nodes[m].outputs[0]
            if (ecg.nodes[m].op_type == "MatMul" and where.get(m, k) != k
                    and parts[where[m]][1] is None
                    and ecg.value_consumers.get(y, []) == [n] and y not in ecg.graph_outputs):
                moves[n] = where[m]
    if not moves:
        return parts
    out = [([i for i in m if i not in moves], p) for m, p in parts]
    for n, k in moves.items():
        out[k][0].append(n)
    return [(sorted(m), p) for m, p in out]


def apply_horizontal(ecg: ECG, bg: BlockGraph) -> tuple[BlockGraph, list[Horizontal]]:
    """``bg`` with each set of sibling GEMM blocks on one input merged into one block."""
    done: list[Horizontal] = []
    for hz in find_horizontal(ecg, bg):
        take = set(hz.nodes)
        parts = [([i for i in m if i not in take], p) for m, p in _parts(bg)]
        parts.append((sorted(take), hz))
        new = _rebuild(ecg, parts)
        if new is None:
            continue
        bg = new
        done.append(hz)
    return bg, done


def apply_concats_in_place(ecg: ECG, bg: BlockGraph) -> tuple[BlockGraph, list[ConcatInPlace]]:
    """``bg`` with each qualifying Concat (:mod:`.concat_view`) as a block of its own, taken
    out of the block that held it. When its block both produces an input and reads the output
    (removing the Concat alone would close a cycle), the readers' side moves into the block
    reading it as a prologue (:func:`_split_around`, :func:`_readers_as_prologue`); when
    that is not possible either, or the Concat is inside a special block, it stays (its
    inputs are then not placed inside another Concat's output either)."""
    done: list[ConcatInPlace] = []
    for cv in find_concats_in_place(ecg):
        if bg.special.get(bg.group_of[cv.node]) is not None:
            continue
        parts = [([i for i in m if i != cv.node], p) for m, p in _parts(bg)]
        parts.append(([cv.node], cv))
        new = _rebuild(ecg, parts)
        if new is None:
            moved = _readers_as_prologue(ecg, _split_around(ecg, bg, cv.node, parts))
            new = _rebuild(ecg, moved) if moved is not None else None
        if new is None:
            continue
        bg = new
        done.append(cv)
    return bg, done


def _split_around(ecg: ECG, bg: BlockGraph, node: int,
                  parts: list[tuple[list[int], object | None]]) -> list[tuple[list[int], object | None]]:
    """``parts`` with the block that held Concat ``node`` cut in two: the members that do not
    depend on the Concat (its producers' side) and those that do (its readers' side, e.g.
    DenseNet's next batch norm and Relu, fused after the conv whose output is the last slice),
    the readers' side last; :func:`_readers_as_prologue` then finds it a home."""
    home = bg.sorted_members(bg.group_of[node])
    after: set[int] = {node}
    for i in home:  # members in topological order
        if any(p in after for p in ecg.producers[i]):
            after.add(i)
    before = [i for i in home if i not in after]
    readers = sorted(after - {node})
    out = [(m, p) for m, p in parts if p is not None or not set(m) & set(home)]
    return [*out, (before, None), (readers, None)]


def _readers_as_prologue(ecg: ECG, parts: list[tuple[list[int], object | None]]
                         ) -> list[tuple[list[int], object | None]] | None:
    """``parts`` from :func:`_split_around` with the readers' side (its last entry) moved into
    the one planned block that reads all it computes, as that block's prologue (DenseNet: the
    batch norm and Relu before the next 1x1 conv), when it is all One-to-One operators and
    there is one; else None (as a block of its own it would be one kernel more than planned:
    ShuffleNet's channel shuffle after its Concat wrote more bytes so)."""
    *rest, readers = parts
    members = set(readers[0])
    if any(ecg.info[i].mapping_type.value != "One-to-One" for i in members):
        return None
    where = {i: k for k, (m, _) in enumerate(rest) for i in m}
    homes = set()
    for i in members:
        for y in ecg.nodes[i].outputs:
            if y is None:
                continue
            if y in ecg.graph_outputs:
                return None
            homes |= {where.get(c) for c in ecg.value_consumers.get(y, []) if c not in members}
    if len(homes) != 1 or None in homes:
        return None
    (k,) = homes
    if rest[k][1] is not None:
        return None
    out = list(rest)
    out[k] = (sorted([*out[k][0], *members]), None)
    return out


def apply_beyond_floor(ecg: ECG, bg: BlockGraph) -> BlockGraph:
    """The three passes: attention blocks first (they turn the Q/K/V projections' epilogues
    into plain bias additions), then horizontal GEMM blocks, then concats in place."""
    bg, _ = apply_attention(ecg, bg)
    bg, _ = apply_horizontal(ecg, bg)
    bg, _ = apply_concats_in_place(ecg, bg)
    return bg
