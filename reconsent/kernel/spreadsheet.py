"""CSV cells a spreadsheet will not run (CSV/formula injection, OWASP).

Excel, LibreOffice and Google Sheets treat a cell starting with ``=``, ``+``,
``-`` or ``@`` as a formula (``+HYPERLINK(...)``, ``-2+3+cmd|' /C calc'!A0``),
and a leading tab or carriage return can hide one. Such a cell gets a leading
apostrophe: the spreadsheet shows it as text, and a reader that strips one
leading ``'`` gets the value back. A phone number (``+39...``) is therefore
written as text too, which is also what keeps its ``+`` and leading zeros.
"""

from __future__ import annotations

__all__ = ["FORMULA_LEADS", "spreadsheet_safe"]

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """``cell`` as a spreadsheet shows it as text (a leading ``'`` before a formula lead)."""
    return "'" + cell if cell.startswith(FORMULA_LEADS) else cell
