"""Binding the server's listening sockets before anything else happens at startup.

``serve`` binds first so that a busy port fails before the first start creates (and prints,
once) the admin's credentials; uvicorn is then handed the bound sockets.
"""

from __future__ import annotations

import contextlib
import socket

from jobhost.errors import JobhostError

BACKLOG = 2048  # uvicorn's default


def bind_listeners(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for every address ``host`` names (as asyncio's create_server binds).

    Raises JobhostError, with every socket closed, when any address cannot be bound.
    """
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise JobhostError(f"cannot listen on {_where(host, port)}: {exc.strerror}") from None
    bound: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            _bind(sock, address)
    except OSError as exc:
        for sock in bound:
            sock.close()
        reason = (exc.strerror or str(exc)).lower()
        raise JobhostError(f"cannot listen on {_where(host, port)}: {reason}") from None
    return bound


def _bind(sock: socket.socket, address: tuple[object, ...]) -> None:
    # As asyncio does: restartable at once after a stop, and IPv6 sockets that leave the
    # IPv4 port to a socket of their own.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if sock.family == socket.AF_INET6:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind(address)
    sock.listen(BACKLOG)


def describe(sock: socket.socket) -> str:
    """``http://host:port`` for a bound socket, with IPv6 hosts in brackets."""
    host, port = sock.getsockname()[:2]
    return f"http://{_where(host, port)}"


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
