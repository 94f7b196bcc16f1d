"""The consent receipt (a readable page and the Kantara JSON) and the public notice page.

Both receipt routes are reads under the signed link (a GET changes nothing);
the notice page is public: a published notice version is no secret, and the
receipt's ``policyUrl`` points at it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from consent_portal.i18n import choose_locale, page_locale, texts
from consent_portal.page_render import error_page, link_error_page, page, path_for
from consent_portal.state import Portal, open_link, portal_of, run_sync
from models import Retention
from reconsent.campaigns.notices import notice_for
from reconsent.db import unit_of_work
from reconsent.kernel.errors import LinkError
from reconsent.kernel.links import LinkUse
from reconsent.kernel.vocab import CollectionMethod, ConsentState
from reconsent.ledger.receipt_signing import sign_receipt
from reconsent.ledger.receipts import (
    ReceiptData,
    ReceiptEvent,
    ReceiptItem,
    build_receipt,
    load_receipt,
)

__all__ = ["notice_page", "receipt_json", "receipt_page"]


def _load(portal: Portal, request: Request) -> tuple[ReceiptData, str] | Response:
    try:
        with unit_of_work(portal.engine) as session:
            link = open_link(session, portal, LinkUse.LANDING, request.path_params["token"])
            locale = choose_locale(request.query_params.get("lang"), link.contact.locale)
            data = load_receipt(session, link.contact, portal.settings, locale)
    except LinkError as exc:
        return link_error_page(portal, request, exc)
    return data, locale


async def receipt_page(request: Request) -> Response:
    return await run_sync(_receipt_page, portal_of(request), request)


def _receipt_page(portal: Portal, request: Request) -> Response:
    loaded = _load(portal, request)
    if isinstance(loaded, Response):
        return loaded
    data, locale = loaded
    t = texts(locale)
    token = request.path_params["token"]
    context: dict[str, Any] = {
        "receipt": build_receipt(data) if data.items else None,
        "items": [_item(t, item) for item in data.items],
        "urls": {
            "json": path_for(request, "receipt_json", token=token) + f"?lang={locale}",
            "landing": path_for(request, "landing", token=token) + f"?lang={locale}",
            "rights": path_for(request, "rights", token=token) + f"?lang={locale}",
        },
    }
    return page(portal, request, "receipt.html", locale, context)


def _state(t: Mapping[str, str], state: ConsentState) -> str:
    return t.get(state.value, t.get(f"state_{state.value}", state.value))


def _how(t: Mapping[str, str], event: ReceiptEvent) -> str:
    """How an event was collected, in the page's language ("al telefono (tastiera)")."""
    how = t.get(f"method_{event.method.value}", event.collection_method)
    implied = event.method in (CollectionMethod.IVR, CollectionMethod.SMS, CollectionMethod.EMAIL)
    if event.channel is None or implied:
        return how
    return f"{how} ({t.get(f'channel_{event.channel.value}', event.channel.value)})"


def _retention(t: Mapping[str, str], retention: Retention | None) -> str:
    if retention is None:
        return t["retention_none"]

    def months(n: int) -> str:
        return t["months_0"] if n == 0 else t["months_1"] if n == 1 else t["months_n"].format(n=n)

    return t["retention_text"].format(
        refused=months(retention.refused),
        withdrawn=months(retention.withdrawn),
        expired=months(retention.expired),
    )


def _item(t: Mapping[str, str], item: ReceiptItem) -> dict[str, Any]:
    facts, now = item.purpose, item.current
    return {
        "code": facts.code,
        "title": facts.title,
        "state": now.state.value,
        "label": _state(t, now.state),
        "when": now.occurred_at.strftime("%Y-%m-%d %H:%M"),
        "expires": now.expires_at.strftime("%Y-%m-%d") if now.expires_at else "",
        "basis": t.get(f"basis_{facts.lawful_basis}", facts.lawful_basis),
        "categories": facts.pii_categories,
        "recipients": list(facts.recipients),
        "shared": facts.third_party_sharing,
        "sensitive": facts.sensitive,
        "children": facts.children,
        "retention": _retention(t, facts.retention),
        "history": [
            {
                "state": event.state.value,
                "label": _state(t, event.state),
                "when": event.occurred_at.strftime("%Y-%m-%d %H:%M"),
                "how": _how(t, event),
                "controller": event.controller,
                "notice": event.notice_version or "",
                "hash": event.hash,
            }
            for event in item.history
        ],
    }


async def receipt_json(request: Request) -> Response:
    return await run_sync(_receipt_json, portal_of(request), request)


def _receipt_json(portal: Portal, request: Request) -> Response:
    loaded = _load(portal, request)
    if isinstance(loaded, Response):
        return loaded
    data, locale = loaded
    if not data.items:
        return error_page(portal, request, locale, "receipt_none", 404)
    receipt = build_receipt(data)
    key = portal.settings.receipt_signing_key
    if key is not None:  # verifiable by anyone with the controller's published key
        receipt = sign_receipt(receipt, key.get_secret_value())
    return Response(
        json.dumps(receipt, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": (
                f'attachment; filename="consent-receipt-{receipt["consentReceiptID"]}.json"'
            )
        },
    )


async def notice_page(request: Request) -> Response:
    return await run_sync(_notice_page, portal_of(request), request)


def _notice_page(portal: Portal, request: Request) -> Response:
    locale = page_locale(request.query_params.get("lang"), request.headers.get("accept-language"))
    with unit_of_work(portal.engine) as session:
        notice = notice_for(session, request.path_params["version"], locale)
    if notice is None:
        return error_page(portal, request, locale, "bad_link", 404)
    context = {
        "notice": {
            "title": notice.title,
            "version": notice.version,
            "locale": notice.locale,
            # Trusted HTML from our own published catalog.
            "body": Markup(notice.body_html),  # noqa: S704
        }
    }
    return page(portal, request, "notice.html", locale, context)
