"""The message for a verb whose optional dependencies are missing (no compiler imports here:
`dnnfusion serve` is the API process)."""

from __future__ import annotations

# This project's own top-level packages: a missing one means a stale install, not a missing extra.
OWN_PACKAGES = frozenset(
    {"bench", "compiler_core", "device_agent", "dnfstore", "dnnfusion", "fuzz", "profiling",
     "service", "workers"}
)


def missing_extra_message(err: ImportError, verb: str, extra: str = "service") -> str:
    """The one-line ``error: ...`` for a verb whose imports failed: the extra to install when a
    third-party module is missing, or a re-install when one of this project's own packages is
    (an editable install made before the package existed does not see it)."""
    top = (err.name or "").partition(".")[0]
    if top in OWN_PACKAGES:
        return (f"error: {verb}: this project's package {top!r} is not importable; the install "
                "predates it: run pip install -e . again in the checkout")
    return f"error: {verb} needs the {extra} extra: pip install 'dnnfusion[{extra}]' ({err})"
