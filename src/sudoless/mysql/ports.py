"""TCP ports for instances: probed with a real ``bind``, because on a shared machine other users' servers
are invisible to any catalogue of our own (dbdeployer's weakness: it checks only the ports it recorded).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Collection

from sudoless.errors import InputError

FIRST_PORT = 3307
LAST_PORT = 3999
#: the system server's port: never picked, so a user's instance can never be mistaken for it.
SYSTEM_PORT = 3306


def check_bind_address(address: str) -> str:
    if address == "*":
        return address
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise InputError(
            f"--bind-address {address!r} is not an IP address (127.0.0.1 keeps the server "
            "private to this machine; 0.0.0.0 opens it to the network)"
        ) from None
    return address


def client_host(bind_address: str) -> str:
    """The address a local client should connect to for a server bound to ``bind_address``."""
    if bind_address in ("0.0.0.0", "*"):
        return "127.0.0.1"
    if bind_address == "::":
        return "::1"
    return bind_address


def port_is_free(bind_address: str, port: int) -> bool:
    """Whether a server could listen on ``port`` at ``bind_address`` right now. SO_REUSEADDR as the server
    sets it, so a port left in TIME_WAIT by our own last run does not count as taken.
    """
    host = "::" if bind_address == "::" else ("0.0.0.0" if bind_address == "*" else bind_address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise InputError(f"cannot listen on {host}: {exc.strerror}; check --bind-address") from None
    return True


def pick_port(bind_address: str, taken: Collection[int]) -> int:
    """The first port from 3307 up that no other instance of ours has and nothing listens on."""
    for port in range(FIRST_PORT, LAST_PORT + 1):
        if port not in taken and port != SYSTEM_PORT and port_is_free(bind_address, port):
            return port
    raise InputError(f"no free port between {FIRST_PORT} and {LAST_PORT} on {bind_address}; give one with --port")
