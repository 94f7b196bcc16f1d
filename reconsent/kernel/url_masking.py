"""Passwords out of URLs before they are shown (``reconsent config``, the demo)."""

from __future__ import annotations

import re

__all__ = ["MASK", "mask_url_passwords"]


#: ``scheme://user:password@``: the user name ends at the first ``:`` (as SQLAlchemy reads
#: it), the password runs to the last ``@`` of the URL, so a raw ``@`` or ``/`` in a
#: password is masked too (and a URL with a port and an ``@`` later is masked more than
#: needed, never less).
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][\w+.-]*://[^:/\s'\"]*):[^\s'\"]*@")
MASK = "***"


def mask_url_passwords(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``
    (``postgresql+psycopg://app:secret@db/reconsent`` -> ``...app:***@db/reconsent``)."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", text)
