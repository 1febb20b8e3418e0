"""``/tokens``: the caller's own API tokens. A request made with a token cannot manage tokens: a script's
token must not mint a longer-lived or wider one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi import Path as PathParam

from sudoless.accounts import Permission
from sudoless.accounts.tokens import ApiToken
from sudoless.errors import PermissionDenied
from sudoless.server.api.context import Caller, DeferredCallerDep
from sudoless.server.api.errors import error_responses
from sudoless.server.api.models import PATH_NAME, TokenCreate, TokenCreated, TokenInfo
from sudoless.server.api.routing import Deferred, ThreadedRoute

router = APIRouter(prefix="/tokens", tags=["tokens"], route_class=ThreadedRoute)

TokenName = Annotated[str, PathParam(min_length=1, max_length=64, pattern=PATH_NAME, description="the token's name")]


async def person(call: DeferredCallerDep) -> Deferred[Caller]:
    """The caller, if logged in with a password (a session), not with a token (checked in the request's
    thread, after the session is read: :mod:`.routing`)."""
    return call.then(_person)


def _person(call: Caller) -> Caller:
    if call.user.scope is not None:
        raise PermissionDenied("API tokens cannot manage tokens; log in with a password to do that")
    return call


PersonDep = Annotated[Caller, Depends(person)]


def token_info(token: ApiToken) -> TokenInfo:
    return TokenInfo(
        name=token.name,
        user=token.user,
        created=token.created,
        expires=token.expires,
        last_used=-1 if token.last_used is None else token.last_used,
        scopes={project: perm.names() for project, perm in token.scopes.items()},
    )


@router.get("", response_model=list[TokenInfo], responses=error_responses(403), summary="The caller's tokens")
def list_tokens(call: PersonDep) -> list[TokenInfo]:
    return [token_info(t) for t in call.accounts.tokens.list(call.user.name)]


@router.post(
    "",
    status_code=201,
    response_model=TokenCreated,
    responses=error_responses(403, 404),
    summary="Create a token (shown once)",
)
def create_token(body: TokenCreate, call: PersonDep) -> TokenCreated:
    """Scopes name projects (``*`` for all) and READ, EXECUTE, SCHEDULE; the caller must hold them."""
    scopes = {project: Permission.parse([p.value for p in perms]) for project, perms in body.scopes.items()}
    secret, listed = call.accounts.tokens.create(call.user.name, body.name, scopes, body.days)
    return TokenCreated(**token_info(listed).model_dump(), token=secret)


@router.delete(
    "/{name}",
    status_code=204,
    response_class=Response,
    responses=error_responses(403, 404),
    summary="Revoke one of the caller's tokens",
)
def revoke_token(name: TokenName, call: PersonDep) -> Response:
    call.accounts.tokens.revoke(call.user.name, name)
    return Response(status_code=204)
