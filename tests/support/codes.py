"""Reading a one-time code as its person reads it: from the file outbox's message.

The portal writes ``email/code-<id>.eml`` or ``sms/code-<id>.txt`` through the
channel adapters (``consent_portal.code_messages``); the newest one is the
code just asked for. And the steps a person takes, through a test client: ask
for a code (from a link's rights centre or the home page) and type it.
"""

from __future__ import annotations

import email
import re
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importing it warns once (see tests/integration/portal/conftest.py)
    from starlette.testclient import TestClient

_CODE = re.compile(r"\b(\d{6})\b")
_NUMBER = re.compile(r"code-(\d+)\.")


def code_files(outbox: Path) -> list[Path]:
    """Every code message in the outbox, oldest first."""
    found = [*outbox.glob("email/code-*.eml"), *outbox.glob("sms/code-*.txt")]
    return sorted(found, key=lambda path: int(_NUMBER.search(path.name).group(1)))  # type: ignore[union-attr]


def _part(path: Path, content_type: str) -> str:
    message: Message = email.message_from_bytes(path.read_bytes())
    for part in message.walk():
        if part.get_content_type() == content_type:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode("utf-8")
    raise AssertionError(f"{path.name} has no {content_type} part")


def _text(path: Path) -> str:
    if path.suffix == ".txt":
        return path.read_text(encoding="utf-8").split("\n\n", 1)[1]
    return _part(path, "text/plain")


def latest_email_html(outbox: Path) -> str:
    """The HTML of the newest code e-mail: what a mail client shows."""
    emails = [path for path in code_files(outbox) if path.suffix == ".eml"]
    assert emails, "no code e-mail in the outbox"
    return _part(emails[-1], "text/html")


def latest_code(outbox: Path) -> str:
    """The code of the newest code message (the body, as the person reads it)."""
    files = code_files(outbox)
    assert files, "no code message in the outbox"
    found = _CODE.search(_text(files[-1]))
    assert found is not None, "no six-digit code in the message"
    return found.group(1)


def post_form(client: TestClient, form: dict[str, str], **fields: str) -> Any:
    data = {"nonce": form["nonce"], "csrf": form["csrf"], **fields}
    return client.post(form["action"], data=data, follow_redirects=False)


def type_code(client: TestClient, entry: Any, code: str) -> Any:
    """Post ``code`` on the code entry page ``entry`` (a response of that page)."""
    form: dict[str, str] = entry.context["form"]
    return post_form(client, form, challenge=form["challenge"], code=code)


def verify_link(client: TestClient, token: str, outbox: Path, lang: str = "en") -> None:
    """Ask for a code from the link's rights centre and type it: the client's session opens."""
    page = client.get(f"/c/{token}/rights?lang={lang}")
    entry = post_form(client, page.context["forms"]["code"])
    assert entry.status_code == 200, entry.text
    answer = type_code(client, entry, latest_code(outbox))
    assert answer.status_code == 303, answer.text


def ask_from_home(client: TestClient, address: str, lang: str = "en") -> Any:
    """The home page's form, posted with ``address``: the code entry page (or an error)."""
    home = client.get(f"/?lang={lang}")
    return post_form(client, home.context["code_form"], address=address)
