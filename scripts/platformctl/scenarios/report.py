"""A demo report: titled sections of aligned lines, printed as the scenario goes."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TextIO


class Report:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.problems: list[str] = []

    def section(self, title: str) -> None:
        print(f"\n== {title}", file=self.out, flush=True)

    def line(self, text: str) -> None:
        print(f"   {text}", file=self.out, flush=True)

    def table(self, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        rows = [tuple(str(c) for c in row) for row in rows]
        widths = [max(len(str(r[i])) for r in [tuple(header), *rows]) for i in range(len(header))]
        for row in [tuple(header), *rows]:
            self.line("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())

    def expect(self, condition: bool, problem: str) -> None:
        """Record a scenario expectation that did not hold; the demo fails at the end if any did."""
        if not condition:
            self.problems.append(problem)
            self.line(f"UNEXPECTED: {problem}")
