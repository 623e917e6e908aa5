"""Human-readable views of a fusion plan: the text summary and a Graphviz DOT picture."""

from __future__ import annotations

from compiler_core.planner.plan import FusionPlan

_COLORS = {  # fill colour per mapping type of a block
    "One-to-One": "#d9f2d9",
    "One-to-Many": "#fff2cc",
    "Many-to-Many": "#f4cccc",
    "Reorganize": "#d9e8fb",
    "Shuffle": "#e6d9f2",
    "Opaque": "#dddddd",
}


def human_bytes(n: float) -> str:
    """``1536`` → ``"1.5 KiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def summary_text(plan: FusionPlan, top_reasons: int = 5) -> str:
    """The summary ``dnnfusion plan`` prints (one fact per line)."""
    mt = plan.mapping_types
    before, after = plan.intermediate_bytes_before, plan.intermediate_bytes_after
    saved = 100.0 * (before - after) / before if before else 0.0
    lines = [
        f"model                         {plan.model}",
        f"compute nodes (original)      {plan.original_nodes}",
        f"nodes after rewriting         {plan.rewritten_nodes}",
        f"fused blocks                  {plan.fused_blocks}",
        f"mapping-type floor            {plan.floor}  (Many-to-Many {mt.get('Many-to-Many', 0)}"
        f" + Opaque {mt.get('Opaque', 0)})",
        f"blocks / floor                {plan.fused_blocks / max(1, plan.floor):.3f}",
        f"fusion rate                   {plan.fusion_rate:.2f}x  (original nodes / blocks)",
        f"intermediate bytes written    {human_bytes(before)} -> {human_bytes(after)}"
        f"  (-{saved:.1f}%)",
        "mapping types                 "
        + ", ".join(f"{k} {v}" for k, v in plan.mapping_types.items()),
    ]
    below = [b for b in plan.blocks if b.kind != "fused"]
    if below:
        kinds = sorted({b.kind for b in below})
        lines.append(
            "beyond the floor              "
            + ", ".join(f"{k} {sum(b.kind == k for b in below)}" for k in kinds)
            + f" (blocks replacing {sum(b.floor_blocks for b in below)} floor kernels)"
        )
    if plan.rewrites:
        lines.append(
            "rewrites                      "
            + ", ".join(f"{k} x{v}" for k, v in sorted(plan.rewrites.items(), key=_by_count))
        )
    else:
        lines.append("rewrites                      none fired")
    reasons = plan.reason_counts()
    lines.append(
        f"unfused edges                 {len(plan.unfused_edges)}"
        + (": " + ", ".join(f"{r} {n}" for r, n in reasons[:top_reasons]) if reasons else "")
    )
    if plan.profile_decisions:
        d = plan.profile_decisions
        by = {src: sum(x.source == src for x in d) for src in ("measured", "nearest", "analytic")}
        lines.append(
            f"profile decisions             {len(d)}, fused {sum(x.fused for x in d)}"
            f" (measured {by['measured']}, nearest {by['nearest']}, analytic {by['analytic']};"
            f" device class {plan.device_class or 'none'})"
        )
    t = plan.timings_ms
    if t:
        lines.append(
            "time                          "
            + ", ".join(f"{k.removesuffix('_ms')} {v:.0f} ms" for k, v in t.items())
        )
    return "\n".join(lines)


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def _quote(text: str) -> str:
    """A DOT string literal; newlines in ``text`` become DOT's centred line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped + '"'


def to_dot(plan: FusionPlan) -> str:
    """Graphviz DOT: one box per fused block (its ops, coloured by mapping type), one edge per
    unfused producer → consumer pair labelled with the reason."""
    out = [
        "digraph fusion_plan {",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8, color="#666666"];',
    ]
    for b in plan.blocks:
        ops = b.ops if len(b.ops) <= 8 else b.ops[:7] + [f"... +{len(b.ops) - 7}"]
        label = f"#{b.id} {b.mapping_type}\n" + "\n".join(ops)
        color = _COLORS.get(b.mapping_type, "#ffffff")
        out.append(f"  b{b.id} [label={_quote(label)}, fillcolor={_quote(color)}];")
    seen: set[tuple[int, int, str]] = set()
    for e in plan.unfused_edges:
        key = (e.producer_block, e.consumer_block, e.reason)
        if key in seen:
            continue
        seen.add(key)
        out.append(f"  b{e.producer_block} -> b{e.consumer_block} [label={_quote(e.reason)}];")
    out.append("}")
    return "\n".join(out) + "\n"
