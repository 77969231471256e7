"""The webhook URL policy (harness.notify.targets) with a resolver of fixed answers: no name is resolved
for real. https:// to public addresses; http:// and private addresses only for listed hosts; never the
app's own address, its public URL, the database or the broker, listed or not; no user info, no fragment."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.errors import TargetRefused, UsageError
from harness.notify.targets import check
from harness.store.settings import build_settings

ANSWERS = {
    "hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "intranet.example.com": ["10.0.0.3"],
    "mixed.example.com": ["93.184.215.14", "192.168.1.20"],
    "metadata.example.com": ["169.254.169.254"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
    "app.example.com": ["93.184.215.99"],
    "db.internal": ["10.0.0.7"],
    "redis.internal": ["10.0.0.8"],
    "localhost": ["127.0.0.1", "::1"],
}
asked: list[tuple[str, int]] = []


def resolve(host: str, port: int) -> list[str]:
    asked.append((host, port))
    if host not in ANSWERS:
        raise OSError(-2, "Name or service not known")
    return ANSWERS[host]


def settings(tmp_path: Path, **overrides: Any) -> Any:
    return build_settings(tmp_path / "data", env={}, **overrides)


def refused(url: str, s: Any) -> str:
    with pytest.raises(TargetRefused) as exc:
        check(url, s, resolve)
    message = str(exc.value)
    assert "\n" not in message and isinstance(exc.value, UsageError)  # a one-line reason, shown as such
    return message


def test_https_to_a_public_address_is_allowed_and_pinned_to_the_address_checked(tmp_path: Path) -> None:
    asked.clear()
    target = check("https://hooks.example.com/shiftwork?x=1", settings(tmp_path), resolve)
    assert (target.scheme, target.host, target.port, target.address) == ("https", "hooks.example.com", 443,
                                                                         "93.184.215.14")
    assert ("hooks.example.com", 443) in asked  # resolved through the resolver given, never for real
    url, host, extensions = target.pinned()
    assert url == "https://93.184.215.14:443/shiftwork?x=1"
    assert host == {"Host": "hooks.example.com"} and extensions == {"sni_hostname": "hooks.example.com"}
    v6 = check("https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:8443/h", settings(tmp_path), resolve)
    assert v6.pinned()[0].startswith("https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:8443/")


def test_http_is_refused_unless_the_host_is_listed(tmp_path: Path) -> None:
    message = refused("http://hooks.example.com/in", settings(tmp_path))
    assert message.startswith("webhook URL http://hooks.example.com/in: only https://")
    assert "--webhook-allowed-host" in message
    listed = settings(tmp_path, webhook_allowed_hosts=("hooks.example.com",))
    assert check("http://hooks.example.com/in", listed, resolve).port == 80
    by_port = settings(tmp_path, webhook_allowed_hosts=("hooks.example.com:8080",))
    assert check("http://hooks.example.com:8080/in", by_port, resolve).port == 8080
    assert "only https://" in refused("http://hooks.example.com:9090/in", by_port)  # another port: not listed


@pytest.mark.parametrize("url, address, kind", [
    ("https://intranet.example.com/h", "10.0.0.3", "a private address"),
    ("https://mixed.example.com/h", "192.168.1.20", "a private address"),  # one bad address is enough
    ("https://localhost:8443/h", "127.0.0.1", "a loopback address"),
    ("https://127.0.0.1:8443/h", "127.0.0.1", "a loopback address"),
    ("https://[::1]:8443/h", "::1", "a loopback address"),
    ("https://mapped.example.com/h", "127.0.0.1", "a loopback address"),  # ::ffff:127.0.0.1 is 127.0.0.1
    ("https://100.64.0.1/h", "100.64.0.1", "not a public address"),  # shared address space
])
def test_private_and_loopback_addresses_are_refused_unless_listed(tmp_path: Path, url: str, address: str,
                                                                 kind: str) -> None:
    message = refused(url, settings(tmp_path))
    assert f"resolves to {address}, {kind}; allow the host with --webhook-allowed-host if it is yours" in message
    host = url.split("/")[2]
    assert check(url, settings(tmp_path, webhook_allowed_hosts=(host,)), resolve).url == url


@pytest.mark.parametrize("url, kind", [
    ("https://metadata.example.com/latest", "a link-local address"),
    ("https://169.254.169.254/latest", "a link-local address"),
    ("https://224.0.0.1/h", "a multicast address"),
    ("https://0.0.0.0:8443/h", "an unspecified address"),
    ("https://240.0.0.1/h", "a reserved address"),
])
def test_link_local_multicast_unspecified_and_reserved_are_refused_even_when_listed(tmp_path: Path, url: str,
                                                                                    kind: str) -> None:
    host = url.split("/")[2]
    assert f", {kind}; webhooks never go there" in refused(url, settings(tmp_path, webhook_allowed_hosts=(host,)))


def test_the_apps_own_addresses_the_database_and_the_broker_are_refused_even_when_listed(tmp_path: Path) -> None:
    everything = ("127.0.0.1", "127.0.0.1:8000", "localhost", "localhost:8000", "app.example.com",
                  "db.internal", "db.internal:5432", "redis.internal", "10.0.0.7", "10.0.0.8")
    s = settings(tmp_path, serve_address="127.0.0.1:8000", public_url="https://app.example.com",
                 database_url="postgresql://sw:pw@db.internal/shiftwork", broker_url="redis://:pw@redis.internal:6379/0",
                 webhook_allowed_hosts=everything)
    for url, what in (("http://127.0.0.1:8000/hook", "the app's own address"),
                      ("http://localhost:8000/hook", "the app's own address"),  # by the address it resolves to
                      ("http://127.0.0.2:8000/hook", "the app's own address"),  # all of 127/8 is this machine
                      ("https://app.example.com/hook", "the app's public URL"),
                      ("https://93.184.215.99:443/hook", "the app's public URL"),
                      ("http://db.internal:5432/", "the database"),
                      ("http://10.0.0.7:5432/", "the database"),
                      ("http://redis.internal:6379/", "the queue's broker"),
                      ("http://10.0.0.8:6379/", "the queue's broker")):
        message = refused(url, s)
        assert f"is {what}; webhooks never go there, whatever is allowed" in message, message
        assert "pw" not in message  # the database's and broker's passwords are nobody's business
    # the same hosts on other ports are someone's receivers, and listed
    assert check("http://127.0.0.1:9000/hook", s, resolve).port == 9000
    assert check("http://db.internal:8080/hook", s, resolve).address == "10.0.0.7"


def test_an_app_listening_on_every_address_keeps_its_port_on_loopback(tmp_path: Path) -> None:
    s = settings(tmp_path, serve_address="0.0.0.0:8000", webhook_allowed_hosts=("127.0.0.1", "localhost"))
    assert "the app's own address" in refused("http://127.0.0.1:8000/h", s)
    assert "the app's own address" in refused("http://localhost:8000/h", s)
    assert check("http://127.0.0.1:8001/h", s, resolve).port == 8001


@pytest.mark.parametrize("url, why", [
    ("https://user:secret@hooks.example.com/h", "no user name or password"),
    ("https://token@hooks.example.com/h", "no user name or password"),
    ("https://hooks.example.com/h#part", "no #fragment"),
    ("ftp://hooks.example.com/h", "use https://host/path"),
    ("https:///nohost", "use https://host/path"),
    ("https://hooks.example.com:99999/h", "the port is not a number"),
    ("https://hooks.example.com/a b", "not a URL"),
    ("", "not a URL"),
    ("https://nowhere.invalid/h", "nowhere.invalid does not resolve (Name or service not known)"),
])
def test_malformed_urls_are_refused_with_their_reason(tmp_path: Path, url: str, why: str) -> None:
    message = refused(url, settings(tmp_path, webhook_allowed_hosts=("hooks.example.com",)))
    assert why in message
    assert "secret" not in message and "token" not in message  # what was typed before the @ is not repeated
