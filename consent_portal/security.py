"""Response security headers, the form's CSRF token and the client address.

The CSRF token is an HMAC (its own salt, the link-signing keys) over the
link's token id, the form's single-use nonce and the language the page was
shown in: a POST must carry the token issued for *this* link and
*this* rendering, so the nonce (the replay key) cannot be chosen by the sender.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
CSRF_SALT = "reconsent.portal.csrf.v1"
#: Paths whose URL carries a signed token: never cached anywhere.
TOKEN_PATH_PREFIXES = ("/c/", "/o/", "/webhooks/")
#: The preference centre and its code forms: a person's data, never cached either.
SESSION_PATHS = ("/me",)


def no_store(path: str) -> bool:
    """A URL carrying a signed token, the preference centre (and the health check) is
    never cached anywhere."""
    return path.startswith(TOKEN_PATH_PREFIXES + SESSION_PATHS) or path == "/healthz"


@dataclass(frozen=True)
class FormGrant:
    """What a rendering of the consent form allows one POST to carry."""

    nonce: str
    language: str


class CsrfTokens:
    """``<language>.<mac>``: an HMAC-SHA256 of (link token id, nonce, language) under a key
    derived from each signing key with the CSRF salt; the newest key issues, all check."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one signing key is required")
        derived = [hmac.new(k.encode(), CSRF_SALT.encode(), hashlib.sha256).digest() for k in keys]
        self._macs = [hmac.new(key, digestmod=hashlib.sha256) for key in reversed(derived)]

    @staticmethod
    def _sign(keyed: Any, token_id: str, nonce: str, language: str) -> str:
        mac = keyed.copy()
        mac.update(f"{token_id}\x00{nonce}\x00{language}".encode())
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    def issue(self, token_id: str, language: str) -> tuple[FormGrant, str]:
        """A fresh nonce for one rendering and the signed token to embed with it."""
        grant = FormGrant(nonce=secrets.token_urlsafe(18), language=language)
        return grant, f"{language}.{self._sign(self._macs[0], token_id, grant.nonce, language)}"

    def check(self, token_id: str, signed: str, nonce: str) -> FormGrant | None:
        """The grant when ``signed`` was issued for this link and nonce, else None."""
        language, _, mac = signed.partition(".")
        if not nonce or not mac:
            return None
        for keyed in self._macs:
            if secrets.compare_digest(self._sign(keyed, token_id, nonce, language), mac):
                return FormGrant(nonce=nonce, language=language)
        return None


def client_ip(request: Request, *, truncate: bool = False) -> str | None:
    """The client address uvicorn gives (the peer, or with trusted proxies the address
    they forwarded: :func:`reconsent.web_security.proxy_options`); no header is read here.

    With ``truncate`` (setting ``evidence_ip_truncate``) only its network is kept.
    """
    host = request.client.host if request.client else None
    return truncate_ip(host) if truncate and host else host


def truncate_ip(address: str) -> str:
    """The /24 network of an IPv4 address or the /48 of an IPv6 one (``a.b.c.0``, ``a:b:c::``).

    Anything that is not an IP address (a test client's name) is returned as is.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def user_agent(request: Request) -> str:
    return request.headers.get("user-agent", "")[:512]
