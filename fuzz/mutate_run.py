"""The mutation campaign: ``count`` mutated inputs through ``plan`` and/or ``upload``."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from fuzz.case import REGRESSIONS, Case, save_case
from fuzz.child import Runner
from fuzz.choose import RandomChooser
from fuzz.mutate import mutate
from fuzz.report import Tally
from fuzz.seeds import load_seeds

TARGETS = ("plan", "upload")


def case_for(seed: int, i: int, seeds: list[Case]) -> Case:
    """Input ``i`` of the run with ``seed``: reproducible one by one."""
    return mutate(RandomChooser(random.Random(f"{seed}:{i}")), seeds)


def plan_category(outcome: dict) -> str:
    code = outcome["code"]
    if code in (0, 2):
        return f"exit {code}" if outcome["ok"] else f"exit {code} (bad stderr)"
    return "other" if code not in ("hang", "died") else code


def upload_category(outcome: dict) -> str:
    code = outcome["code"]
    if code in ("hang", "died"):
        return code
    if code in (200, 201):
        return "2xx"
    if 400 <= code < 500:
        return "4xx" if outcome["ok"] else "4xx (bad detail)"
    return "5xx" if 500 <= code < 600 else "other"


CATEGORY = {"plan": plan_category, "upload": upload_category}


def run_mutations(
    count: int,
    seed: int,
    *,
    targets: tuple[str, ...] = TARGETS,
    timeout: float = 30.0,
    save_dir: Path | None = REGRESSIONS,
    real_seeds: bool = True,
    every: int = 100,
) -> dict:
    """Run the campaign; returns the summary (counts per target, failure signatures, the saved
    reproducers). ``save_dir=None`` saves nothing."""
    seeds = load_seeds(real=real_seeds)
    tallies = {t: Tally(t, count, every) for t in targets}
    failures: list[dict] = []
    log = Path(tempfile.gettempdir()) / f"fuzz-mutate-{seed}.log"
    runners = {t: Runner(t, timeout, str(log)) for t in targets}
    try:
        for i in range(count):
            case = case_for(seed, i, seeds)
            for t in targets:
                outcome = runners[t](case)
                tally = tallies[t]
                tally.add(CATEGORY[t](outcome))
                if not outcome["ok"]:
                    saved = None
                    if tally.failure(outcome) and save_dir is not None:
                        saved = str(save_case(case, t, outcome, save_dir))
                    failures.append({"target": t, "index": i, "origin": case.origin,
                                     "code": outcome["code"], "detail": outcome["detail"][-600:],
                                     "saved": saved})
                tally.step()
    finally:
        for r in runners.values():
            r.close()
    return {
        "kind": "mutate",
        "count": count,
        "seed": seed,
        "seeds": len(seeds),
        "timeout_s": timeout,
        "targets": {
            t: {"counts": dict(tl.counts), "seconds": round(tl.elapsed(), 1),
                "failure_signatures": dict(tl.signatures), "restarts": runners[t].restarts}
            for t, tl in tallies.items()
        },
        "failures": failures[:200],
        "failures_total": len(failures),
    }
