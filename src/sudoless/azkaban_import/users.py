"""Azkaban's ``azkaban-users.xml`` as part of an import, through the accounts' own import (passwords hashed).

A user who exists in sudoless and did not come from an earlier run of this import is a conflict: with
``fail`` the import stops before writing; otherwise the sudoless account is kept as it is.
"""

from __future__ import annotations

from pathlib import Path

from sudoless.accounts.userfile import read_user_file
from sudoless.config import Settings
from sudoless.store import Store

from .report import Report

__all__ = ["import_users", "plan_users"]


def plan_users(
    path: Path, existing: set[str], done: dict[str, int], on_conflict: str, report: Report
) -> tuple[list[str], set[str]]:
    """The users of the file to import, and those to leave alone (conflicts, and users imported before)."""
    names = [user.name for user in read_user_file(path).users]
    leave = {name for name in names if name in done}
    report.skipped["users"] += len(leave)
    for name in names:
        if name in existing and name not in done:
            leave.add(name)
            if on_conflict == "fail":
                report.conflicts.append(
                    f"user {name} exists in sudoless already; rerun with --on-conflict skip "
                    "to keep the sudoless account"
                )
            else:
                report.conflicts.append(f"user {name} exists in sudoless already: kept the sudoless account")
    return [name for name in names if name not in leave], leave


def import_users(
    store: Store, settings: Settings, path: Path, names: list[str], leave: set[str], origin: str, report: Report
) -> None:
    """Import the file's roles, groups and the users ``names`` (their passwords hashed), and record them."""
    from sudoless.accounts import Accounts

    Accounts(store, settings).import_azkaban_users(path, skip=leave)
    for name in names:
        store.imports.record_import(origin, "user", name, 0)
    report.add("users", len(names))
