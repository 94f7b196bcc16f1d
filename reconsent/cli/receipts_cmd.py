"""``reconsent receipts``: keys, a person's receipt, and third-party verification."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import select

from reconsent.cli.context import console, print_json, session, settings
from reconsent.kernel.errors import ConfigError, NotFoundError

receipts_app = typer.Typer(
    help="Consent receipts (Kantara 1.1), optionally Ed25519-signed.", no_args_is_help=True
)


def receipts_for(external_id: str) -> list[dict[str, Any]]:
    """One receipt per current consent (signed when a key is configured)."""
    from dataclasses import replace

    from reconsent.ledger.receipt_signing import sign_receipt
    from reconsent.ledger.receipts import build_receipt

    cfg = settings()
    data = _receipt_data(external_id)
    receipts = [build_receipt(replace(data, items=(item,))) for item in data.items]
    if cfg.receipt_signing_key is not None:
        key = cfg.receipt_signing_key.get_secret_value()
        receipts = [sign_receipt(r, key) for r in receipts]
    return receipts


def _receipt_data(external_id: str) -> Any:
    from models import Contact
    from reconsent.ledger.receipts import load_receipt

    cfg = settings()
    with session(cfg) as s:
        contact = s.scalar(select(Contact).where(Contact.external_id == external_id))
        if contact is None:
            raise NotFoundError(f"no contact with external id {external_id!r}")
        return load_receipt(s, contact, cfg, contact.locale)


def receipt_for(external_id: str) -> dict[str, Any] | None:
    """The person's current receipt (signed when a key is configured); None if no record."""
    from models import Contact
    from reconsent.ledger.receipt_signing import sign_receipt
    from reconsent.ledger.receipts import build_receipt, load_receipt

    cfg = settings()
    with session(cfg) as s:
        contact = s.scalar(select(Contact).where(Contact.external_id == external_id))
        if contact is None:
            raise NotFoundError(f"no contact with external id {external_id!r}")
        data = load_receipt(s, contact, cfg, contact.locale)
    if not data.items:
        return None
    receipt = build_receipt(data)
    if cfg.receipt_signing_key is not None:
        receipt = sign_receipt(receipt, cfg.receipt_signing_key.get_secret_value())
    return receipt


@receipts_app.command("show")
def show(external_id: str = typer.Argument(..., help="The contact's id in your CRM.")) -> None:
    """Print the person's consent receipt as JSON."""
    receipt = receipt_for(external_id)
    if receipt is None:
        raise NotFoundError(f"contact {external_id!r} has no consent on record")
    print_json(receipt)


@receipts_app.command("keygen")
def keygen() -> None:
    """Print a new signing key (set it as RECONSENT_RECEIPT_SIGNING_KEY) and its public key."""
    from reconsent.ledger.receipt_signing import new_key, public_key_of

    key = new_key()
    console.print(f"RECONSENT_RECEIPT_SIGNING_KEY={key}")
    console.print(f"public key to publish: {public_key_of(key)}")


@receipts_app.command("verify")
def verify(
    path: Path = typer.Argument(..., help="A receipt JSON file."),
    public_key: str | None = typer.Option(None, help="The controller's published public key."),
) -> None:
    """Check a receipt's signature (exit 1 when it does not hold)."""
    from reconsent.ledger.receipt_signing import verify_receipt

    try:
        receipt = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable JSON receipt ({exc})") from None
    if not isinstance(receipt, dict) or not verify_receipt(receipt, public_key):
        console.print("[red]signature does not verify[/red]")
        raise typer.Exit(1)
    console.print(f"signature verifies (key {receipt['publicKey']})")
