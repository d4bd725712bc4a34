"""Where bantin may connect to: the address rules of every outbound fetch (feeds, article pages).

Why: feed addresses are typed by staff and redirects are chosen by the feed's server, article
links by whoever writes the feed, so any of them may point at this server's admin ports
(loopback), the cloud's metadata service (169.254.169.254) or the district's private network.
A fetch may connect only to public addresses; loopback, private, link-local, CGNAT, multicast
and every other non-global range are refused, and so are IPv6 forms that carry such an IPv4
address (mapped ``::ffff:127.0.0.1``, compatible ``::127.0.0.1``, NAT64, 6to4). Some portals sit
on an intranet, so the operator may allow private hosts by name or by address
(BANTIN_ALLOW_PRIVATE_HOSTS: ``intranet.example.gov.vn``, ``*.noi-bo.vn``, ``host:port``,
``10.0.0.5``, ``10.1.0.0/16``).

The rule is checked on the addresses a host name resolves to, every time a connection is made:
``GuardedResolver`` is the aiohttp resolver of the feed session, so the address checked is the
address connected to (a DNS server answering differently a moment later cannot slip a private
address past the check) and every redirect hop passes it. Literal IP addresses never reach a
resolver, so ``check_url`` judges them before each request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

__all__ = [
    "STRICT",
    "AddressPolicy",
    "AddressRefused",
    "GuardedResolver",
    "IPAddress",
    "check_url",
    "check_url_resolved",
    "is_public",
    "literal_address",
    "parse_entry",
    "resolve",
    "unmapped",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
_COMPATIBLE = ipaddress.ip_network("::/96")


class AddressRefused(Exception):
    """A connection the address rules refuse; the message says which host and address."""


def unmapped(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), else itself."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _COMPATIBLE and int(address) > 1):  # not :: and ::1
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_public(address: IPAddress) -> bool:
    """Whether anyone may be connected to ``address``: global unicast, judged as the IPv4
    address it carries if it carries one."""
    if isinstance(address, ipaddress.IPv6Address) and address in _LOCAL_NAT64:
        return False  # a site's own translator: where it leads is not known from here
    inner = unmapped(address)
    return inner.is_global and not inner.is_multicast


@dataclass(frozen=True)
class _NameEntry:
    host: str  # lower case, no trailing dot; "*.domain" for every sub-domain
    port: int | None

    def matches(self, host: str, port: int | None) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host


@dataclass(frozen=True)
class _NetworkEntry:
    network: IPNetwork
    port: int | None

    def matches(self, address: IPAddress, port: int | None) -> bool:
        if self.port is not None and self.port != port:
            return False
        return address in self.network or unmapped(address) in self.network


def parse_entry(entry: str) -> _NameEntry | _NetworkEntry:
    """One allowed private host: "host", "host:port", "*.domain", "10.0.0.5", "[fd00::1]:8080",
    "10.1.0.0/16" or a whole URL. Raises ValueError for anything else."""
    text = entry.strip()
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"'{entry}' is not a host name or address")
    try:
        return _NetworkEntry(ipaddress.ip_network(text.strip("[]"), strict=False), None)
    except ValueError:
        pass
    parts = urlsplit(text if "://" in text else f"//{text}")
    host = (parts.hostname or "").rstrip(".").lower()
    port = parts.port  # raises ValueError on a bad port
    if not host or parts.path not in ("", "/"):
        raise ValueError(f"'{entry}' is not a host name or address")
    if port is not None and port == DEFAULT_PORTS.get(parts.scheme.lower()):
        port = None
    try:
        return _NetworkEntry(ipaddress.ip_network(host, strict=False), port)
    except ValueError:
        return _NameEntry(host, port)


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses, plus the private hosts and addresses the operator allowed."""

    names: tuple[_NameEntry, ...] = ()
    networks: tuple[_NetworkEntry, ...] = ()

    @classmethod
    def allowing(cls, entries: Iterable[str] = ()) -> AddressPolicy:
        parsed = [parse_entry(entry) for entry in entries if entry.strip()]
        return cls(
            names=tuple(e for e in parsed if isinstance(e, _NameEntry)),
            networks=tuple(e for e in parsed if isinstance(e, _NetworkEntry)),
        )

    def allows(self, host: str, port: int | None, address: IPAddress) -> bool:
        """Whether a connection to ``address``, reached as ``host``:``port``, is allowed."""
        if is_public(address):
            return True
        name = host.strip("[]").rstrip(".").lower()
        if any(entry.matches(name, port) for entry in self.names):
            return True
        return any(entry.matches(address, port) for entry in self.networks)

    def check(self, host: str, port: int | None, addresses: Iterable[IPAddress]) -> None:
        """Raise AddressRefused unless every address ``host`` resolved to is allowed (one
        refused address is enough: the connection may go to any of them)."""
        for address in addresses:
            if not self.allows(host, port, address):
                raise AddressRefused(_refusal(host, address))


STRICT = AddressPolicy()


def _refusal(host: str, address: IPAddress) -> str:
    bare = host.strip("[]")
    where = bare if literal_address(bare) == address else f"{bare} resolves to {address}, which"
    return (
        f"{where} is a loopback, private or other non-public address; bantin fetches from "
        "those only for hosts the operator allows (BANTIN_ALLOW_PRIVATE_HOSTS)"
    )


def literal_address(host: str) -> IPAddress | None:
    """The IP address a URL's host spells, None for a host name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in DEFAULT_PORTS or not host:
        raise AddressRefused("only http:// and https:// addresses can be fetched")
    return host, parts.port or DEFAULT_PORTS[scheme]


def check_url(url: str, policy: AddressPolicy) -> None:
    """Judge a URL whose host is a literal IP address (those never reach a resolver).

    The host is read the way aiohttp will connect to it (yarl's normalized host), not as
    typed: IDNA folds "①②⑦.0.0.1" and "127。0。0。1" into the literal 127.0.0.1, which would
    otherwise go straight to a socket as a "host name" that was never judged.
    """
    try:
        parsed = URL(url)
        host = parsed.raw_host or ""
        port = parsed.port
    except ValueError:
        return  # aiohttp refuses the same URL with a clear "invalid address"
    address = literal_address(host)
    if address is not None:
        policy.check(host, port, [address])


async def resolve(host: str, port: int) -> set[IPAddress]:
    """Every address ``host`` resolves to (getaddrinfo in a worker thread); raises
    AddressRefused when it does not resolve."""
    literal = literal_address(host)
    if literal is not None:
        return {literal}
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise AddressRefused(f"could not resolve host {host} (DNS)") from exc
    found: set[IPAddress] = set()
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = literal_address(str(sockaddr[0]))
        if address is not None:
            found.add(address)
    if not found:
        raise AddressRefused(f"could not resolve host {host} (DNS)")
    return found


async def check_url_resolved(url: str, policy: AddressPolicy) -> None:
    """Judge a URL by the addresses its host resolves to now (for connections this process
    does not make itself, e.g. through a proxy: the proxy resolves again)."""
    host, port = _host_port(url)
    policy.check(host, port, await resolve(host, port))


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver with the address rules applied to every answer it gives.

    ``exempt`` holds hosts the operator configured for the process itself (HTTP proxies): the
    connector resolves a proxy's name, not the feed's, when a proxy is used. ``inner`` does
    the lookups (aiohttp's default resolver unless a test passes a stand-in DNS).
    """

    def __init__(
        self,
        policy: AddressPolicy,
        exempt: Collection[str] = (),
        inner: AbstractResolver | None = None,
    ) -> None:
        self._inner = inner or DefaultResolver()
        self._policy = policy
        self._exempt = frozenset(h.rstrip(".").lower() for h in exempt)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        if host.rstrip(".").lower() in self._exempt:
            return answers
        addresses = [literal_address(str(answer["host"])) for answer in answers]
        self._policy.check(host, port, [a for a in addresses if a is not None])
        return answers

    async def close(self) -> None:
        await self._inner.close()
