"""Fetch an article by its URL, refusing every address that is not on the public internet.

httpcore (the HTTP engine under httpx, already a dependency through Gradio) does the HTTP; this
module adds what a server fetching URLs for its users must do and no client does for it: every
address a host name resolves to is checked *when the connection is made* (so a redirect, or a
name that resolves to another address the second time, is checked too) against loopback,
private, link-local, unique-local, unspecified and other non-public ranges; only ``http`` and
``https``; a few redirects; connect and read time-outs and an overall deadline; the body capped
as it streams; content types we read only. Every refusal is a :class:`FetchError` with one line
that names the rule.
"""

from __future__ import annotations

import http
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from index.errors import InvalidDocumentError

USER_AGENT = "grounded-qa/1 (+article fetch)"
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0
DEADLINE_S = 30.0  # the whole fetch, redirects and a body trickled byte by byte included
MAX_REDIRECTS = 5
# content types read (the rest refused before the body is read)
HTML_TYPES = ("text/html", "application/xhtml+xml")
PDF_TYPES = ("application/pdf", "application/x-pdf")
TEXT_TYPES = ("text/plain", "text/markdown", "text/x-markdown")
ALLOW_FLAG = "--allow-private-urls"


class FetchError(InvalidDocumentError):
    """A URL that was not fetched: not http(s), a private address, a time-out, an HTTP error,
    too many redirects, too large, or a type of content that is not an article."""


@dataclass(frozen=True)
class Fetched:
    """What a URL gave: the final URL (after redirects), its content type and its bytes."""
    url: str
    content_type: str  # lower case, without parameters
    charset: str | None
    body: bytes


def address_rule(ip: str) -> str | None:
    """The rule that refuses ``ip`` ("loopback", "private", "link-local", ...), or None for a
    public address. An IPv4 address inside IPv6 (``::ffff:127.0.0.1``) is judged as IPv4."""
    addr = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    for rule, hit in (("unspecified", addr.is_unspecified), ("loopback", addr.is_loopback),
                      ("link-local", addr.is_link_local), ("multicast", addr.is_multicast)):
        if hit:
            return rule
    if isinstance(addr, ipaddress.IPv6Address) and addr in ipaddress.ip_network("fc00::/7"):
        return "unique-local"
    if addr.is_private:
        return "private"
    if not addr.is_global:
        return "reserved (not a public address)"
    return None


def check_url(url: str) -> str:
    """``url`` stripped, if it is an http(s) URL with a host; else a :class:`FetchError`."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise FetchError(f"{url[:200]}: not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(f"{url[:200]}: only http:// and https:// URLs are fetched, not "
                         f"{(parts.scheme or 'a URL without a scheme')}")
    if not parts.hostname:
        raise FetchError(f"{url[:200]}: the URL has no host")
    if parts.username or parts.password:
        raise FetchError(f"{url[:200]}: URLs with a user name or password are not fetched")
    return url


def _backend(allow_private: bool | frozenset[str]):
    import httpcore

    class GuardedBackend(httpcore.SyncBackend):
        """Connects only to addresses :func:`address_rule` allows, checked for every address
        the name resolves to, at connection time."""

        def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError):
                raise FetchError(f"{host}: no such host") from None
            ips = list(dict.fromkeys(str(info[4][0]) for info in infos))
            if allow_private is not True:
                for ip in ips:
                    if ip in (allow_private or ()):
                        continue
                    if rule := address_rule(ip):
                        shown = host if host == ip else f"{host} resolves to {ip}, which"
                        raise FetchError(f"{shown} is a {rule} address: not fetched (the server's "
                                         f"operator can allow it with {ALLOW_FLAG})")
            error: Exception | None = None
            for ip in ips:  # the checked addresses themselves: the name is not resolved again
                try:
                    return super().connect_tcp(ip, port, timeout, local_address, socket_options)
                except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                    error = exc
            raise error or FetchError(f"{host}: no address to connect to")

        def connect_unix_socket(self, path, timeout=None, socket_options=None):
            raise FetchError("unix sockets are not fetched")

    return GuardedBackend()


def fetch(url: str, max_bytes: int, allow_private: bool | frozenset[str] = False, *,
          connect_timeout: float = CONNECT_TIMEOUT_S, read_timeout: float = READ_TIMEOUT_S,
          deadline_s: float = DEADLINE_S, max_redirects: int = MAX_REDIRECTS) -> Fetched:
    """GET ``url`` under the rules of this module; ``allow_private``: True lets every address
    through, a set of addresses those only.

    :raises FetchError: with the rule or the failure, in one line.
    """
    import httpcore

    start = time.monotonic()
    first = url = check_url(url)
    with httpcore.ConnectionPool(network_backend=_backend(allow_private), retries=0,
                                 max_connections=2) as pool:
        for _ in range(max_redirects + 1):
            timeout = {"connect": connect_timeout, "read": read_timeout, "write": read_timeout,
                       "pool": connect_timeout}
            try:
                with pool.stream("GET", url, headers=[
                        (b"User-Agent", USER_AGENT.encode()),
                        (b"Accept", b"text/html,application/xhtml+xml,application/pdf,text/plain;q=0.8")],
                        extensions={"timeout": timeout}) as resp:
                    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in resp.headers}
                    if resp.status in (301, 302, 303, 307, 308) and "location" in headers:
                        url = check_url(urljoin(url, headers["location"]))
                        continue
                    if resp.status >= 400:
                        raise FetchError(f"{url[:200]}: the server answered {resp.status} "
                                         f"{_phrase(resp.status)}")
                    if resp.status != 200:
                        raise FetchError(f"{url[:200]}: the server answered {resp.status} "
                                         f"{_phrase(resp.status)}, not the page")
                    ctype, charset = _content_type(headers.get("content-type", ""))
                    if ctype not in HTML_TYPES + PDF_TYPES + TEXT_TYPES:
                        raise FetchError(f"{url[:200]}: the server sent {ctype or 'no content type'}, "
                                         "not a web page, a PDF or text")
                    declared = headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise FetchError(f"{url[:200]}: the page is {int(declared):,} bytes; the "
                                         f"limit is {max_bytes:,}")
                    body = bytearray()
                    for chunk in resp.iter_stream():
                        body += chunk
                        if len(body) > max_bytes:
                            raise FetchError(f"{url[:200]}: the page is over the limit of "
                                             f"{max_bytes:,} bytes")
                        if time.monotonic() - start > deadline_s:
                            raise FetchError(f"{url[:200]}: took over {deadline_s:g} s; not fetched")
                    return Fetched(url, ctype, charset, bytes(body))
            except httpcore.ConnectTimeout:
                raise FetchError(f"{url[:200]}: no connection within {connect_timeout:g} s") from None
            except httpcore.ReadTimeout:
                raise FetchError(f"{url[:200]}: the server sent nothing for {read_timeout:g} s") from None
            except httpcore.ConnectError as exc:
                raise FetchError(f"{url[:200]}: cannot connect ({_first_line(exc)})") from None
            except (httpcore.ProtocolError, httpcore.NetworkError, httpcore.UnsupportedProtocol) as exc:
                raise FetchError(f"{url[:200]}: the fetch failed ({_first_line(exc)})") from None
        raise FetchError(f"{first[:200]}: more than {max_redirects} redirects; not followed")


def _content_type(value: str) -> tuple[str, str | None]:
    kind, _, params = value.partition(";")
    charset = None
    for p in params.split(";"):
        k, _, v = p.strip().partition("=")
        if k.lower() == "charset" and v:
            charset = v.strip("\"' ").lower()
    return kind.strip().lower(), charset


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
