"""The consent receipt (a readable page and the Kantara JSON) and the public notice page.

Both receipt routes are reads under the signed link (a GET changes nothing);
the notice page is public: a published notice version is no secret, and the
receipt's ``policyUrl`` points at it.
"""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from consent_portal.i18n import choose_locale, page_locale, texts
from consent_portal.page_render import error_page, link_error_page, page, path_for
from consent_portal.state import Portal, open_link, portal_of, run_sync
from reconsent.campaigns.notices import notice_for
from reconsent.db import unit_of_work
from reconsent.kernel.errors import LinkError
from reconsent.kernel.links import LinkUse
from reconsent.ledger.receipt_signing import sign_receipt
from reconsent.ledger.receipts import ReceiptData, build_receipt, load_receipt

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
    labels = {s: t.get(s, t.get(f"state_{s}", s)) for s in (i.state.value for i in data.items)}
    token = request.path_params["token"]
    context: dict[str, Any] = {
        "receipt": build_receipt(data) if data.items else None,
        "items": [
            {
                "title": item.purpose_title,
                "state": item.state.value,
                "label": labels[item.state.value],
                "when": item.occurred_at.strftime("%Y-%m-%d %H:%M"),
                "expires": item.expires_at.strftime("%Y-%m-%d") if item.expires_at else "",
                "notice": item.notice_version or "",
                "hash": item.hash,
            }
            for item in data.items
        ],
        "urls": {
            "json": path_for(request, "receipt_json", token=token) + f"?lang={locale}",
            "landing": path_for(request, "landing", token=token) + f"?lang={locale}",
            "rights": path_for(request, "rights", token=token) + f"?lang={locale}",
        },
    }
    return page(portal, request, "receipt.html", locale, context)


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
