"""What an import did, or would do (``--dry-run``): counts per kind, conflicts, and what did not map."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Report"]


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
        }

    def lines(self) -> list[str]:
        """The report for a person: one line per count, conflict and unmapped item."""
        verb = "would import" if self.dry_run else "imported"
        out = [f"{verb}: " + (", ".join(f"{n} {kind}" for kind, n in sorted(self.counts.items())) or "nothing")]
        if self.skipped:
            out.append("already imported: " + ", ".join(f"{n} {k}" for k, n in sorted(self.skipped.items())))
        out += [f"conflict: {line}" for line in self.conflicts]
        out += [f"not imported: {line}" for line in self.unmapped]
        out += [f"note: {line}" for line in self.notes]
        return out
