"""The short session a correct one-time code opens: a signed cookie naming one person.

The cookie's value is ``itsdangerous``-signed (the link-signing keys, their own
salt; the newest key signs, all verify) and carries the contact id, the
challenge that opened it (the session id: the CSRF tokens of its forms are
bound to it), the channel the code went by, and its end, checked on the
portal's clock. The cookie is ``HttpOnly``, ``SameSite=Strict``, ``Path=/``
and, when the portal is served over https, ``Secure`` with the ``__Host-``
prefix. Nothing personal is in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadData, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

from consent_portal.state import Portal
from reconsent.kernel.vocab import Channel

SESSION_SALT = "reconsent.portal.session.v1"
COOKIE_NAME = "reconsent_session"
SECURE_COOKIE_NAME = "__Host-reconsent_session"

__all__ = ["VerifiedSession", "clear_session", "open_session", "session_of"]


@dataclass(frozen=True)
class VerifiedSession:
    contact_id: int
    #: The public id of the challenge that opened it: the CSRF token id of its forms.
    session_id: str
    ends_at: datetime
    #: The channel the code went by (what the person proved they control).
    channel: Channel | None = None

    @property
    def csrf_id(self) -> str:
        return f"session:{self.session_id}"


def _https(portal: Portal) -> bool:
    return portal.settings.portal_base_url.lower().startswith("https://")


def _cookie_name(portal: Portal) -> str:
    return SECURE_COOKIE_NAME if _https(portal) else COOKIE_NAME


def _serializer(portal: Portal) -> URLSafeSerializer:
    return URLSafeSerializer(portal.settings.link_signing_keys(), salt=SESSION_SALT)


def open_session(
    portal: Portal,
    response: Response,
    contact_id: int,
    session_id: str,
    channel: Channel | None = None,
) -> None:
    """Set the session cookie for ``contact_id`` on ``response`` (``portal_session_minutes``)."""
    minutes = portal.settings.portal_session_minutes
    ends = portal.clock.now() + timedelta(minutes=minutes)
    payload = {"c": contact_id, "s": session_id, "e": int(ends.timestamp())}
    if channel is not None:
        payload["ch"] = channel.value
    value = _serializer(portal).dumps(payload)
    response.set_cookie(
        _cookie_name(portal),
        str(value),
        max_age=minutes * 60,
        path="/",
        secure=_https(portal),
        httponly=True,
        samesite="strict",
    )


def clear_session(portal: Portal, response: Response) -> None:
    response.delete_cookie(
        _cookie_name(portal), path="/", secure=_https(portal), httponly=True, samesite="strict"
    )


def session_of(portal: Portal, request: Request) -> VerifiedSession | None:
    """The request's session when its cookie is genuine and not over, else None."""
    raw = request.cookies.get(_cookie_name(portal))
    if not raw:
        return None
    try:
        data = _serializer(portal).loads(raw)
    except BadData:
        return None
    if not isinstance(data, dict):
        return None
    contact_id, session_id, ends = data.get("c"), data.get("s"), data.get("e")
    if not isinstance(contact_id, int) or not isinstance(session_id, str):
        return None
    if not isinstance(ends, int):
        return None
    ends_at = datetime.fromtimestamp(ends, UTC)
    if portal.clock.now() >= ends_at:
        return None
    channel = data.get("ch")
    known = Channel(channel) if channel in {c.value for c in Channel} else None
    return VerifiedSession(contact_id, session_id, ends_at, known)
