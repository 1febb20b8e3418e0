"""What an import did, or would do (``--dry-run``): counts per kind, conflicts, and what did not map."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Progress", "Report"]

#: ``progress(step, done, total)``: how far an import is; step is ``projects`` or ``executions``
Progress = Callable[[str, int, int], None]


@dataclass
class Report:
    """``counts`` are what was (or would be) imported, per kind; ``skipped`` what was already there from an
    earlier run; ``conflicts`` and ``unmapped`` one line each, with what the user should do."""

    dry_run: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    conflicts: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: what ``azkaban.properties`` carries over: config.toml's tables and the values to set in them
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, kind: str, count: int = 1) -> None:
        """Count ``count`` more of ``kind`` (nothing for 0, so a kind appears only when something came)."""
        if count:
            self.counts[kind] += count

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "imported": dict(sorted(self.counts.items())),
            "already_imported": dict(sorted(self.skipped.items())),
            "conflicts": list(self.conflicts),
            "unmapped": list(self.unmapped),
            "notes": list(self.notes),
            "settings": {table: dict(values) for table, values in self.settings.items()},
        }

    def lines(self) -> list[str]:
        """The report for a person: one line per count, conflict and unmapped item."""
        verb = "would import" if self.dry_run else "imported"
        out = [f"{verb}: " + (", ".join(f"{n} {kind}" for kind, n in sorted(self.counts.items())) or "nothing")]
        if self.skipped:
            out.append("already imported: " + ", ".join(f"{n} {k}" for k, n in sorted(self.skipped.items())))
        out += [f"conflict: {line}" for line in self.conflicts]
        out += [f"not imported: {line}" for line in self.unmapped]
        out += [
            f"settings: config.toml [{table}] {key} = {json.dumps(value)}"
            for table, values in self.settings.items()
            for key, value in values.items()
        ]
        out += [f"note: {line}" for line in self.notes]
        return out
