"""Project permissions from Azkaban's ``project_permissions``: users and groups with a bitmask.

sudoless's :class:`~sudoless.accounts.permissions.Permission` uses Azkaban's bit values, so a mask is kept
as it is once the bits sudoless does not know are removed (and reported).
"""

from __future__ import annotations

from sudoless.accounts.names import valid_name
from sudoless.accounts.permissions import Permission
from sudoless.store import Store

__all__ = ["decode_mask", "import_permissions", "import_proxy_users"]

KNOWN = 0
for _member in Permission:
    KNOWN |= int(_member)


def decode_mask(mask: int) -> tuple[Permission, int]:
    """The permissions of an Azkaban mask, and the bits left over that sudoless does not know (0 if none)."""
    return Permission(mask & KNOWN), mask & ~KNOWN


def import_permissions(
    store: Store | None, project_id: int, project_name: str, grants: list[tuple[str, bool, int]], known_users: set[str]
) -> tuple[int, list[str]]:
    """Give each user and group its permissions on ``project_id`` (``store`` None: only check); returns how
    many grants were new or changed and one line per thing the user should look at."""
    notes: list[str] = []
    records = store.accounts if store is not None else None
    current = set(records.project_permissions(project_id)) if records is not None else set()
    changed = 0
    for name, is_group, mask in grants:
        permission, unknown = decode_mask(mask)
        who = f"group {name}" if is_group else f"user {name}"
        if unknown:
            notes.append(
                f"project {project_name}: {who} has permission bits {unknown:#x} that sudoless does not "
                f"know; kept: {', '.join(permission.names()) or 'none'}"
            )
        if not is_group and name not in known_users:
            notes.append(
                f"project {project_name}: {who} has no sudoless account yet; import azkaban-users.xml "
                "with `sudoless user import` or add the user"
            )
        if (name, is_group, int(permission)) in current:
            continue
        changed += 1
        if records is not None and store is not None:
            records.set_permission(project_id, name, is_group, int(permission), store.clock())
    return changed, notes


def import_proxy_users(
    store: Store, write: bool, project_id: int | None, project_name: str, names: list[str], creator: str
) -> tuple[int, list[str]]:
    """Add the project's Azkaban proxy users (``write`` False: only count them); returns how many were new here
    and one line per name sudoless cannot take. ``project_id`` None is a project a dry run would create, for
    ``creator`` (its first proxy user)."""
    notes: list[str] = []
    current = set(store.project_settings.proxy_users(project_id)) if project_id is not None else {creator}
    added = 0
    for name in names:
        if not valid_name(name):
            notes.append(
                f"project {project_name}: proxy user {name!r} is not a name sudoless accepts; add a valid one "
                "on the project's page"
            )
            continue
        if name in current:
            continue
        added += 1
        if write and project_id is not None:
            store.project_settings.add_proxy_user(project_id, name, "azkaban-import")
    return added, notes
