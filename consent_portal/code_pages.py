"""Asking for a one-time code and typing it: the portal home's form and the rights centre's.

* ``POST /me/code``: the home page's form. The visitor types an e-mail or a
  phone; when we hold it (a contact not erased) the code goes to *that*
  contact's stored address, by e-mail or SMS. Known or not, the answer is the
  same page with the same status, and the send happens after the answer (so
  the time taken is the same too); a challenge is stored either way, so the
  limits are the same.
* ``POST /c/<token>/code``: the rights centre of a wave link. The code goes to
  the link's person, on the link's channel (an SMS for a call's link), or the
  other address when that one is missing.
* ``POST /me/verify`` and ``POST /c/<token>/verify``: the typed code. Right: a
  short signed session (:mod:`consent_portal.verified_sessions`) and a 303 to the
  preference centre or back to the link's rights centre. Wrong: the same form,
  with the tries left; the last wrong one locks the challenge and the address's
  code requests for a while (:mod:`reconsent.kernel.rules.one_time_codes`).

Every form carries a CSRF token (``consent_portal.security``): the home's is
bound to ``home``, the code form's to its challenge.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from consent_portal.code_messages import code_message, send_after
from consent_portal.code_store import (
    Checked,
    Issued,
    Target,
    check_code,
    client_digest,
    code_keys,
    issue_challenge,
    policy_of,
)
from consent_portal.i18n import choose_locale, page_locale, texts
from consent_portal.page_render import error_page, link_error_page, one, page, path_for, read_form
from consent_portal.security import client_ip, truncate_ip
from consent_portal.state import (
    OpenLink,
    Portal,
    open_link,
    portal_of,
    retry_on_conflict,
    run_sync,
)
from consent_portal.verified_sessions import open_session
from models import Contact
from reconsent.db import unit_of_work
from reconsent.kernel.errors import AddressError, LinkError
from reconsent.kernel.links import LinkUse
from reconsent.kernel.rules.addresses import address_hash, normalise_email, normalise_phone
from reconsent.kernel.rules.one_time_codes import Refusal, Verdict, well_formed
from reconsent.kernel.vocab import AddressKind, Channel

#: The CSRF token id of the home page's code form.
HOME_FORM = "home"
#: Where a code goes: the channel and the address we hold.
Destination = tuple[Channel, str]

__all__ = ["HOME_FORM", "home_code", "home_verify", "link_code", "link_verify"]


def _code_form_id(public_id: str) -> str:
    return f"code:{public_id}"


def _client_hash(portal: Portal, request: Request) -> str:
    address = client_ip(request)
    return client_digest(portal.address_key, truncate_ip(address) if address else None)


def _issue(portal: Portal, request: Request, target: Target) -> Issued | Refusal:
    def work(session: Session) -> Issued | Refusal:
        return issue_challenge(
            session,
            target,
            client_hash=_client_hash(portal, request),
            now=portal.clock.now(),
            policy=policy_of(portal.settings),
            keys=code_keys(portal.settings),
        )

    return retry_on_conflict(portal.engine, work)


def _entry_page(
    portal: Portal,
    request: Request,
    locale: str,
    public_id: str,
    action: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    """The page where the code is typed (the same for a known and an unknown address)."""
    grant, csrf = portal.csrf.issue(_code_form_id(public_id), locale)
    context: dict[str, Any] = {
        "form": {"action": action, "nonce": grant.nonce, "csrf": csrf, "challenge": public_id},
        "error": error,
        "home_url": path_for(request, "home") + f"?lang={locale}",
        "minutes": portal.settings.portal_code_minutes,
    }
    return page(portal, request, "code_entry.html", locale, context, status_code)


def _answer(
    portal: Portal,
    request: Request,
    locale: str,
    issued: Issued | Refusal,
    action: str,
    to: Destination | None,
) -> Response:
    if isinstance(issued, Refusal):
        headers = {"Retry-After": str(portal.settings.portal_code_lock_minutes * 60)}
        return error_page(portal, request, locale, "code_limited", 429, headers=headers)
    response = _entry_page(portal, request, locale, issued.public_id, action)
    message = None
    if issued.code is not None and to is not None:
        channel, address = to
        message = code_message(
            portal.settings, issued.challenge_id, channel, address, issued.code, locale
        )
    return send_after(portal, response, message)


# --- from the home page: an address typed by the visitor -------------------------------------


def _typed_address(portal: Portal, typed: str) -> tuple[AddressKind, str] | None:
    text = typed.strip()
    try:
        if "@" in text:
            return AddressKind.EMAIL, normalise_email(text)
        return AddressKind.PHONE, normalise_phone(text, portal.settings.jurisdiction)
    except AddressError:
        return None


def _holder(session: Session, kind: AddressKind, digest: str) -> Contact | None:
    """The contact holding the address (not erased); several: the oldest record."""
    column = Contact.email_hash if kind is AddressKind.EMAIL else Contact.phone_hash
    return session.scalar(
        select(Contact)
        .where(column == digest, Contact.erased_at.is_(None))
        .order_by(Contact.id)
        .limit(1)
    )


async def home_code(request: Request) -> Response:
    fields = await read_form(request)
    return await run_sync(_home_code, portal_of(request), request, fields)


def _home_code(portal: Portal, request: Request, fields: dict[str, list[str]]) -> Response:
    grant = portal.csrf.check(HOME_FORM, one(fields, "csrf"), one(fields, "nonce"))
    locale = page_locale(
        grant.language if grant else request.query_params.get("lang"),
        request.headers.get("accept-language"),
    )
    if grant is None:
        return error_page(portal, request, locale, "forbidden", 403)
    typed = _typed_address(portal, one(fields, "address"))
    if typed is None:
        return error_page(portal, request, locale, "code_bad_address", 400, back=True)
    kind, normalised = typed
    digest = address_hash(portal.address_key, kind, normalised)
    channel = Channel.EMAIL if kind is AddressKind.EMAIL else Channel.SMS
    with unit_of_work(portal.engine) as session:
        contact = _holder(session, kind, digest)
        to: Destination | None = None
        if contact is not None:
            held = contact.email if kind is AddressKind.EMAIL else contact.phone
            to = (channel, held) if held else None
            session.expunge(contact)
    issued = _issue(portal, request, Target(digest, contact, channel))
    action = path_for(request, "me_verify")
    return _answer(portal, request, locale, issued, action, to)


# --- from a wave link's rights centre: the link's person ---------------------------------------


def _link_target(contact: Contact, channel: Channel | None) -> tuple[Target, Destination | None]:
    """The link's channel (a call's link: an SMS), else the other address we hold."""
    order = (
        [Channel.EMAIL, Channel.SMS] if channel is Channel.EMAIL else [Channel.SMS, Channel.EMAIL]
    )
    for choice in order:
        digest = contact.email_hash if choice is Channel.EMAIL else contact.phone_hash
        held = contact.email if choice is Channel.EMAIL else contact.phone
        if digest and held:
            return Target(digest, contact, choice), (choice, held)
    return Target(f"contact:{contact.id}", None, None), None


async def link_code(request: Request) -> Response:
    fields = await read_form(request)
    return await run_sync(_link_code, portal_of(request), request, fields)


def _link_person(portal: Portal, request: Request) -> tuple[OpenLink, Contact] | Response:
    """The link of the request's token and its person (detached); or its error page."""
    try:
        with unit_of_work(portal.engine) as session:
            link = open_link(session, portal, LinkUse.LANDING, request.path_params["token"])
            contact = session.get_one(Contact, link.contact.id)
            session.expunge(contact)
    except LinkError as exc:
        return link_error_page(portal, request, exc)
    return link, contact


def _link_code(portal: Portal, request: Request, fields: dict[str, list[str]]) -> Response:
    token = request.path_params["token"]
    opened = _link_person(portal, request)
    if isinstance(opened, Response):
        return opened
    link, contact = opened
    grant = portal.csrf.check(link.payload.token_id, one(fields, "csrf"), one(fields, "nonce"))
    locale = choose_locale(grant.language if grant else None, link.contact.locale)
    if grant is None:
        return error_page(portal, request, locale, "forbidden", 403)
    target, to = _link_target(contact, link.channel)
    issued = _issue(portal, request, replace(target, request_id=link.request_id))
    action = path_for(request, "link_verify", token=token)
    return _answer(portal, request, locale, issued, action, to)


# --- the typed code ----------------------------------------------------------------------------


def _verify(
    portal: Portal, request: Request, fields: dict[str, list[str]], fallback: str | None
) -> tuple[Checked, str, str] | Response:
    """(the check, session id, locale) for the right code; else the page to answer."""
    public_id = one(fields, "challenge")
    grant = portal.csrf.check(_code_form_id(public_id), one(fields, "csrf"), one(fields, "nonce"))
    locale = choose_locale(grant.language if grant else request.query_params.get("lang"), fallback)
    if grant is None or not public_id:
        return error_page(portal, request, locale, "forbidden", 403)

    def work(session: Session) -> Checked:
        return check_code(
            session,
            public_id,
            well_formed(one(fields, "code")),
            now=portal.clock.now(),
            policy=policy_of(portal.settings),
            keys=code_keys(portal.settings),
        )

    checked = retry_on_conflict(portal.engine, work)
    if checked.verdict is Verdict.OK and checked.contact_id is not None:
        return checked, public_id, locale
    t = texts(locale)
    if checked.verdict is Verdict.WRONG:
        error = t["code_wrong"].format(left=checked.attempts_left)
        action = str(request.url.path)
        return _entry_page(portal, request, locale, public_id, action, error=error, status_code=400)
    if checked.verdict is Verdict.LOCKED:
        headers = {"Retry-After": str(portal.settings.portal_code_lock_minutes * 60)}
        return error_page(portal, request, locale, "code_locked", 429, headers=headers)
    return error_page(portal, request, locale, "code_expired", 410)


async def home_verify(request: Request) -> Response:
    fields = await read_form(request)
    return await run_sync(_home_verify, portal_of(request), request, fields)


def _home_verify(portal: Portal, request: Request, fields: dict[str, list[str]]) -> Response:
    verified = _verify(portal, request, fields, None)
    if isinstance(verified, Response):
        return verified
    checked, session_id, locale = verified
    assert checked.contact_id is not None  # _verify answers only a right code
    response = RedirectResponse(path_for(request, "preferences") + f"?lang={locale}", 303)
    open_session(portal, response, checked.contact_id, session_id, checked.channel)
    return response


async def link_verify(request: Request) -> Response:
    fields = await read_form(request)
    return await run_sync(_link_verify, portal_of(request), request, fields)


def _link_verify(portal: Portal, request: Request, fields: dict[str, list[str]]) -> Response:
    token = request.path_params["token"]
    opened = _link_person(portal, request)
    if isinstance(opened, Response):
        return opened
    link, _contact = opened
    verified = _verify(portal, request, fields, link.contact.locale)
    if isinstance(verified, Response):
        return verified
    checked, session_id, locale = verified
    if checked.contact_id != link.contact.id:  # a code for somebody else: not this link's
        return error_page(portal, request, locale, "forbidden", 403)
    rights = path_for(request, "rights", token=token) + f"?lang={locale}"
    response = RedirectResponse(rights, 303)
    open_session(portal, response, link.contact.id, session_id, checked.channel)
    return response
