"""``/users``: accounts and their project grants; global administrators only (the ``sudoless user`` commands
over HTTP). Passwords are hashed with Argon2 by :class:`~sudoless.accounts.Accounts`; none is ever shown."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi import Path as PathParam

from sudoless.accounts import Permission
from sudoless.errors import InputError, NotFoundError, StateError
from sudoless.server.api.context import Caller, DeferredCallerDep
from sudoless.server.api.errors import error_responses
from sudoless.server.api.login import user_info
from sudoless.server.api.models import PATH_NAME, GrantRequest, PasswordRequest, UserCreate, UserGrant, UserInfo
from sudoless.server.api.projects import ProjectName
from sudoless.server.api.routing import Deferred, ThreadedRoute

router = APIRouter(prefix="/users", tags=["users"], route_class=ThreadedRoute)

UserName = Annotated[str, PathParam(min_length=1, max_length=255, pattern=PATH_NAME, description="the user's name")]


async def admin(call: DeferredCallerDep) -> Deferred[Caller]:
    """The caller, if a global administrator (checked in the request's thread: :mod:`.routing`)."""
    return call.then(_admin)


def _admin(call: Caller) -> Caller:
    call.require_admin()
    return call


AdminDep = Annotated[Caller, Depends(admin)]


@router.get("", response_model=list[UserInfo], responses=error_responses(403), summary="Every user")
def list_users(call: AdminDep) -> list[UserInfo]:
    return [user_info(call, user) for user in call.accounts.list_users()]


@router.post("", status_code=201, response_model=UserInfo, responses=error_responses(403, 409), summary="Create a user")
def create_user(body: UserCreate, call: AdminDep) -> UserInfo:
    try:
        call.accounts.get_user(body.name)
    except NotFoundError:
        pass
    else:
        raise StateError(f"user '{body.name}' already exists")
    user = call.accounts.add_user(
        body.name, body.password, roles=body.roles, groups=body.groups, proxy_users=body.proxy_users, email=body.email
    )
    return user_info(call, user)


@router.get("/{name}", response_model=UserInfo, responses=error_responses(403, 404), summary="One user")
def get_user(name: UserName, call: AdminDep) -> UserInfo:
    return user_info(call, call.accounts.get_user(name))


@router.delete(
    "/{name}",
    status_code=204,
    response_class=Response,
    responses=error_responses(403, 404, 409),
    summary="Delete a user, their sessions and their grants",
)
def delete_user(name: UserName, call: AdminDep) -> Response:
    """409 for the last administrator: someone must be able to manage the server."""
    call.accounts.get_user(name)
    try:
        call.accounts.remove_user(name)
    except InputError as exc:  # the only admin: a conflict with the current state, not bad input
        raise StateError(str(exc)) from None
    return Response(status_code=204)


@router.put(
    "/{name}/password",
    status_code=204,
    response_class=Response,
    responses=error_responses(403, 404),
    summary="Set a user's password",
)
def set_password(name: UserName, body: PasswordRequest, call: AdminDep) -> Response:
    """The user's sessions end: a token taken with the old password dies with it."""
    call.accounts.set_password(name, body.password)
    return Response(status_code=204)


@router.get(
    "/{name}/grants",
    response_model=list[UserGrant],
    responses=error_responses(403, 404),
    summary="A user's own grants on projects",
)
def list_grants(name: UserName, call: AdminDep) -> list[UserGrant]:
    call.accounts.get_user(name)
    grants = []
    for project in call.store.projects.active():
        for who, is_group, perms in call.accounts.project_permissions(project.id):
            if who == name and not is_group:
                grants.append(UserGrant(project=project.name, permissions=perms.names()))
    return grants


@router.put(
    "/{name}/grants/{project}",
    response_model=UserGrant,
    responses=error_responses(403, 404),
    summary="Grant permissions on a project",
)
def grant(name: UserName, project: ProjectName, body: GrantRequest, call: AdminDep) -> UserGrant:
    """Replaces the user's grant on the project (ADMIN implies every other permission)."""
    record = call.project(project, Permission.ADMIN)
    perms = Permission.parse([p.value for p in body.permissions])
    call.accounts.set_project_permission(record.id, name, False, perms)
    call.store.projects.add_event(
        record.id, "USER_PERMISSION", call.user.name, f"Permission for user {name} set to {', '.join(perms.names())}"
    )
    return UserGrant(project=record.name, permissions=perms.names())


@router.delete(
    "/{name}/grants/{project}",
    status_code=204,
    response_class=Response,
    responses=error_responses(403, 404),
    summary="Revoke a user's grant on a project",
)
def revoke(name: UserName, project: ProjectName, call: AdminDep) -> Response:
    record = call.project(project, Permission.ADMIN)
    call.accounts.get_user(name)
    call.accounts.set_project_permission(record.id, name, False, Permission(0))
    call.store.projects.add_event(
        record.id, "USER_PERMISSION", call.user.name, f"Permission for user {name} set to nothing (removed)"
    )
    return Response(status_code=204)
