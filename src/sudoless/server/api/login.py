"""``/login``, ``/logout`` and ``/me``: tokens are Accounts sessions, shared with the AJAX API and the web UI."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.requests import Request

from sudoless.accounts import User
from sudoless.server.ajax.login import client_ip
from sudoless.server.api.context import Caller, CallerDep, ServicesDep
from sudoless.server.api.errors import error_responses
from sudoless.server.api.models import LoginRequest, Token, UserInfo
from sudoless.server.api.routing import ThreadedRoute
from sudoless.server.dispatch import Services

router = APIRouter(tags=["session"], route_class=ThreadedRoute)


def user_info(call: Caller | Services, user: User) -> UserInfo:
    accounts = call.accounts
    return UserInfo(
        name=user.name,
        roles=list(user.roles),
        groups=list(user.groups),
        proxy_users=list(user.proxy_users),
        email=user.email,
        admin=user.is_admin,
        permissions=accounts.global_permissions(user).names(),
        source=user.source,
        last_login=-1 if user.last_login is None else user.last_login,
    )


@router.post("/login", response_model=Token, responses=error_responses(429), summary="Log in for a token")
def login(body: LoginRequest, request: Request, svc: ServicesDep) -> Token:
    """Check the password (failed attempts are throttled per user and per address) and start a session."""
    user = svc.accounts.authenticate(body.username, body.password, client_ip(request))
    token = svc.accounts.create_session(user, client_ip(request))
    return Token(token=token, expires=svc.accounts.clock() + svc.accounts.session_ttl_ms, user=user.name)


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    responses=error_responses(),
    summary="End the session of the token",
)
def logout(call: CallerDep) -> Response:
    call.accounts.end_session(call.token)
    return Response(status_code=204)


@router.get("/me", response_model=UserInfo, responses=error_responses(), summary="The caller")
def me(call: CallerDep) -> UserInfo:
    return user_info(call, call.user)
