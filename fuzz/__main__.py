"""``python -m fuzz mutate|diff|seeds|replay``: see the package docstring."""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    sub = p.add_subparsers(dest="verb", required=True)
    m = sub.add_parser("mutate", help="mutated ONNX files/archives through plan and upload")
    m.add_argument("--count", type=int, default=1000)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--target", choices=("plan", "upload", "both"), default="both")
    m.add_argument("--timeout", type=float, default=30.0, help="seconds per input")
    d = sub.add_parser("diff", help="random graphs: compiled vs ONNX Runtime")
    d.add_argument("--count", type=int, default=200, help="random graphs")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--per-model", type=int, default=15, help="graphs packed into one model")
    d.add_argument("--timeout", type=float, default=600.0, help="seconds per model batch")
    sub.add_parser("seeds", help="rebuild fuzz/corpus/seeds/")
    sub.add_parser("replay", help="re-run every saved input in fuzz/corpus/regressions/")
    args = p.parse_args(argv)

    from fuzz.report import write_summary

    if args.verb == "seeds":
        from fuzz.seeds import write_corpus

        print(f"{len(write_corpus())} seed files written")
        return 0
    if args.verb == "replay":
        from fuzz.replay import replay_all

        bad = replay_all()
        return 1 if bad else 0
    stamp = time.strftime("%Y%m%dT%H%M%S")
    if args.verb == "mutate":
        from fuzz.mutate_run import TARGETS, run_mutations

        targets = TARGETS if args.target == "both" else (args.target,)
        summary = run_mutations(args.count, args.seed, targets=targets, timeout=args.timeout)
        path = write_summary(f"mutate-{args.target}-s{args.seed}-n{args.count}-{stamp}", summary)
        failed = False
        for t, info in summary["targets"].items():
            counts = ", ".join(f"{k}: {v}" for k, v in sorted(info["counts"].items()))
            print(f"{t}: {counts}  ({info['seconds']} s)")
            for sig, n in info["failure_signatures"].items():
                failed = True
                print(f"  FAIL x{n}: {sig}")
        print(f"summary: {path}")
        return 1 if failed else 0
    from fuzz.diff_run import run_diff

    summary = run_diff(args.count, args.seed, per_model=args.per_model, timeout=args.timeout)
    path = write_summary(f"diff-s{args.seed}-n{args.count}-{stamp}", summary)
    c = summary["counts"]
    print(f"graphs: {summary['count']}  refused: {c.get('refused', 0)}  "
          f"compiled: {c.get('equal', 0) + c.get('mismatched', 0)} "
          f"(equal {c.get('equal', 0)}, mismatched {c.get('mismatched', 0)})  "
          f"crashed: {c.get('crashed', 0)}  ({summary['seconds']} s, {summary['models']} models)")
    for sig, n in summary["failure_signatures"].items():
        print(f"  FAIL x{n}: {sig}")
    print(f"summary: {path}")
    return 1 if c.get("crashed", 0) or c.get("mismatched", 0) else 0


if __name__ == "__main__":
    sys.exit(main())
