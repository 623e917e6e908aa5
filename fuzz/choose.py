"""One interface for random choices, so every generator runs under hypothesis (shrinking, in
the tests) and under a plain seeded ``random.Random`` (the high-volume runs)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Chooser(Protocol):
    def int(self, lo: int, hi: int) -> int:
        """An integer in ``[lo, hi]`` (both included)."""

    def choice(self, items: Sequence[T]) -> T:
        """One element of a non-empty sequence."""

    def bool(self) -> bool:
        """True or False."""


class RandomChooser:
    """Choices from a seeded ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]

    def bool(self) -> bool:
        return self.rng.random() < 0.5


class DrawChooser:
    """Choices drawn from hypothesis strategies (``draw`` of an ``st.composite``)."""

    def __init__(self, draw: Callable[[Any], Any]) -> None:
        from hypothesis import strategies as st

        self.draw = draw
        self.st = st

    def int(self, lo: int, hi: int) -> int:
        return self.draw(self.st.integers(lo, hi))

    def choice(self, items: Sequence[T]) -> T:
        return self.draw(self.st.sampled_from(list(items)))

    def bool(self) -> bool:
        return self.draw(self.st.booleans())
