"""Where a webhook may go: the URL policy, checked when a subscription is made and before every try.

A webhook is a request the app makes to a URL someone typed: without a policy it reaches what only
the app can reach (a database, the cloud's metadata service, the app itself). So: https:// to public
addresses only; an administrator may list hosts (--webhook-allowed-host, host or host:port) that may
be http:// or private (their own receiver). Never, listed or not: the app's own address, its public
URL, the database's and the broker's host:port, and link-local, multicast, reserved or unspecified
addresses. The check resolves the name and hands back the address it checked, so the request goes
there (pinned) and a DNS answer that changes between the check and the request changes nothing.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from grader.errors import TargetRefused
from harness.store.settings import WebSettings

Resolver = Callable[[str, int], Sequence[str]]  # (host, port) -> its addresses; OSError when it does not resolve
IP = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL = 2000
DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "postgres": 5432, "mysql": 3306, "redis": 6379,
                 "rediss": 6379, "amqp": 5672, "amqps": 5671}
ALLOW_HINT = "allow the host with --webhook-allowed-host if it is yours"
__all__ = ["Resolver", "Target", "TargetRefused", "check", "system_resolver"]


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses as this machine's resolver answers now (IPv4 and IPv6, each once)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


@dataclass(frozen=True)
class Target:
    """A URL the policy let through, with the address it checked: the request goes to that address."""

    url: str
    scheme: str
    host: str  # lower case, an IPv6 address without brackets
    port: int
    address: str

    def pinned(self) -> tuple[str, dict[str, str], dict[str, str]]:
        """(the URL with the checked address in place of the name, the Host header, httpx extensions):
        https still verifies the certificate against the name (SNI)."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if ":" in self.address else self.address
        url = urlunsplit((self.scheme, f"{literal}:{self.port}", parts.path or "/", parts.query, ""))
        named = f"[{self.host}]" if ":" in self.host else self.host
        host_header = named if self.port == DEFAULT_PORTS[self.scheme] else f"{named}:{self.port}"
        extensions = {"sni_hostname": self.host} if self.scheme == "https" and not _is_ip(self.host) else {}
        return url, {"Host": host_header}, extensions


@dataclass(frozen=True)
class _Endpoint:
    """An address webhooks never go to: the app's own, the database's, the broker's."""

    label: str
    host: str
    port: int
    addresses: frozenset[IP]
    anywhere: bool  # listening on 0.0.0.0 / ::: every address of this machine


def check(url: str, settings: WebSettings, resolve: Resolver = system_resolver) -> Target:
    """The target if the policy lets `url` through, else TargetRefused with a one-line reason."""
    parts = urlsplit(url)
    # what the reasons repeat of the URL: never a password typed into it
    shown = (urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])) if "@" in parts.netloc
             else url)[:200]
    if not url or len(url) > MAX_URL or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise TargetRefused(f"webhook URL {shown!r}: not a URL (up to {MAX_URL} characters, no spaces)")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused(f"webhook URL {shown}: use https://host/path")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise TargetRefused(f"webhook URL {shown}: no user name or password in the URL (the signature "
                            "authenticates the app to the receiver)")
    if parts.fragment or url.endswith("#"):
        raise TargetRefused(f"webhook URL {shown}: no #fragment (it is never sent)")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise TargetRefused(f"webhook URL {shown}: the port is not a number from 1 to 65535") from None
    host = parts.hostname.lower()
    listed = _listed(host, port, settings.webhook_allowed_hosts)
    addresses = _addresses(host, port, resolve, shown)
    for endpoint in _own_endpoints(settings, resolve):
        if endpoint.port == port and (host == endpoint.host or any(_same(a, endpoint) for a in addresses)):
            raise TargetRefused(f"webhook URL {shown}: {host}:{port} is {endpoint.label}; webhooks never go "
                                f"there, whatever is allowed")
    if parts.scheme == "http" and not listed:
        raise TargetRefused(f"webhook URL {shown}: only https:// is allowed, unless an administrator lists "
                            f"the host with --webhook-allowed-host")
    for address in addresses:
        kind = _kind(address)
        if kind is None:
            continue
        if kind in ("a link-local address", "a multicast address", "a reserved address",
                    "an unspecified address"):
            raise TargetRefused(f"webhook URL {shown}: resolves to {address}, {kind}; webhooks never go there")
        if not listed:
            raise TargetRefused(f"webhook URL {shown}: resolves to {address}, {kind}; {ALLOW_HINT}")
    return Target(url=url, scheme=parts.scheme, host=host, port=port, address=str(addresses[0]))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _ip(address: str) -> IP:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # a scoped IPv6 address (fe80::1%eth0) is link-local
    # ::ffff:10.0.0.1 reaches 10.0.0.1: judge the IPv4 address it carries
    return ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip


def _addresses(host: str, port: int, resolve: Resolver, shown: str) -> list[IP]:
    if _is_ip(host):
        return [_ip(host)]
    try:
        found = [_ip(a) for a in resolve(host, port)]
    except (OSError, UnicodeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise TargetRefused(f"webhook URL {shown}: {host} does not resolve ({reason})") from None
    if not found:
        raise TargetRefused(f"webhook URL {shown}: {host} does not resolve (no address)")
    return found


def _kind(ip: IP) -> str | None:
    """What makes an address not a public one (None: it is public); the most telling name first."""
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:  # 240.0.0.0/4 counts as private too: name it for what it is
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


def _listed(host: str, port: int, allowed: Sequence[str]) -> bool:
    named = f"[{host}]" if ":" in host else host
    wanted = {host, named, f"{named}:{port}"}
    return any(entry.strip().lower() in wanted for entry in allowed)


def _same(address: IP, endpoint: _Endpoint) -> bool:
    if address in endpoint.addresses:
        return True
    # all of 127.0.0.0/8 and ::1 are this machine: an app on one loopback address is reachable on them all
    local = endpoint.anywhere or any(a.is_loopback for a in endpoint.addresses)
    return local and (address.is_loopback or address.is_unspecified)


def _own_endpoints(settings: WebSettings, resolve: Resolver) -> list[_Endpoint]:
    """The app's serve address and public URL, the database's and the broker's host:port."""
    found: list[tuple[str, str, str]] = []  # (label, scheme, netloc)
    if settings.serve_address:
        found.append(("the app's own address", "http", settings.serve_address))
    if settings.public_url:
        p = urlsplit(settings.public_url)
        found.append(("the app's public URL", p.scheme, p.netloc))
    try:
        db = make_url(settings.database_url)
        if db.host:
            found.append(("the database", db.get_backend_name(), f"{db.host}:{db.port or ''}"))
    except ArgumentError:
        pass
    broker = urlsplit(settings.broker_url)
    if broker.scheme.split("+")[0] in DEFAULT_PORTS and broker.hostname:
        found.append(("the queue's broker", broker.scheme.split("+")[0], broker.netloc))
    out = []
    for label, scheme, netloc in found:
        parts = urlsplit(f"//{netloc}")
        try:
            port = parts.port or DEFAULT_PORTS.get(scheme, 0)
        except ValueError:
            continue
        host = (parts.hostname or "").lower()
        anywhere = host in ("", "0.0.0.0", "::")
        addresses: set[IP] = set()
        names = [host] if host and not anywhere else []
        if anywhere:
            names.append(socket.gethostname())  # the machine's own addresses
        for name in names:
            try:
                addresses.update(_ip(a) for a in ([name] if _is_ip(name) else resolve(name, port)))
            except (OSError, UnicodeError, ValueError):
                pass  # a name that does not resolve still matches by name
        out.append(_Endpoint(label, host, port, frozenset(addresses), anywhere))
    return out
