"""The internet guard: any connection or name lookup beyond loopback raises RuntimeError.

Why: tests must never depend on (or leak to) the internet; a test that silently reached a real
feed or api.telegram.org would pass here and fail in the offline CI box, or worse, message
real people. Loopback (127.0.0.0/8, ::1, localhost), the unspecified address (which Linux
routes to loopback) and non-IP sockets (AF_UNIX, ...) stay allowed, so fake servers on
127.0.0.1, SQLite and a local PostgreSQL keep working.

This file is stdlib-only and self-contained on purpose: tests/guard/sitecustomize.py loads it by
path into subprocesses started with BANTIN_NETGUARD=1, where the tests package is not importable.
Installing twice (e.g. sitecustomize and the pytest fixture in the same process) is a no-op, and
both copies share one violations list kept on the socket module.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import Any

_MARK = "_bantin_netguard"
_ORIGINALS = "_bantin_netguard_originals"
_VIOLATIONS = "_bantin_netguard_violations"
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def is_local(host: object) -> bool:
    """True for destinations that cannot leave this machine."""
    if host is None:
        return True  # getaddrinfo(None, ...) means the local/passive address
    if isinstance(host, bytes | bytearray):
        host = bytes(host).decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip().lower().rstrip(".")
    if name in ("", *_LOCAL_NAMES) or name.endswith(".localhost"):
        return True  # "" is INADDR_ANY for Python sockets
    name = name.strip("[]").split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def violations() -> list[str]:
    """Hosts refused so far in this process (shared by every copy of this module)."""
    found: list[str] = socket.__dict__.setdefault(_VIOLATIONS, [])
    return found


def take_violations() -> list[str]:
    """Return and forget the refusals so far (a test that provokes one on purpose calls this)."""
    found = violations()
    taken = list(found)
    found.clear()
    return taken


def _refuse(host: object) -> None:
    shown = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
    violations().append(shown)
    print(f"bantin netguard: refused {shown}", file=sys.stderr)
    raise RuntimeError(f"test tried to reach the internet: {shown}")


def _check_address(family: int, address: Any) -> None:
    if family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and address:
        if not is_local(address[0]):
            _refuse(address[0])


def installed() -> bool:
    """Whether the guard currently patches this process's socket module."""
    return bool(getattr(socket.getaddrinfo, _MARK, False))


def install() -> None:
    """Patch socket.socket.connect/connect_ex, socket.create_connection and getaddrinfo."""
    if installed():
        return
    orig_connect = socket.socket.connect
    orig_connect_ex = socket.socket.connect_ex
    orig_create_connection = socket.create_connection
    orig_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        _check_address(self.family, address)
        return orig_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check_address(self.family, address)
        return orig_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if isinstance(address, tuple) and address and not is_local(address[0]):
            _refuse(address[0])
        return orig_create_connection(address, *args, **kwargs)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_local(host):
            _refuse(host)
        return orig_getaddrinfo(host, *args, **kwargs)

    for function in (connect, connect_ex, create_connection, getaddrinfo):
        setattr(function, _MARK, True)
    setattr(
        socket,
        _ORIGINALS,
        (orig_connect, orig_connect_ex, orig_create_connection, orig_getaddrinfo),
    )
    socket.socket.connect = connect  # type: ignore[method-assign, assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign, assignment]
    socket.create_connection = create_connection  # type: ignore[assignment]
    socket.getaddrinfo = getaddrinfo


def uninstall() -> None:
    """Restore the original socket functions (for tests of the guard itself)."""
    originals = socket.__dict__.pop(_ORIGINALS, None)
    if originals is None:
        return
    connect, connect_ex, create_connection, getaddrinfo = originals
    socket.socket.connect = connect  # type: ignore[method-assign, assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign, assignment]
    socket.create_connection = create_connection
    socket.getaddrinfo = getaddrinfo
