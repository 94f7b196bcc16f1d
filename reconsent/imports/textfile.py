"""A CRM's file as text: its encoding, its delimiter, its physical lines.

By default a file is UTF-8, with or without the byte-order mark Excel writes, or
UTF-16 when it starts with a UTF-16 byte-order mark (Excel's "Unicode text").
``encoding`` names another (``cp1252``, ``latin-1``, ``utf-16``...).  The
delimiter is sniffed among comma, semicolon and tab (``csv.Sniffer`` on the first
lines), falling back to a comma.  Lines are decoded one chunk at a time, so a
byte the encoding cannot read stops the import at the line that holds it, after
every line before it, and the error never quotes the bytes.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from typing import BinaryIO

from reconsent.kernel.errors import ConfigError, ImportStopped

__all__ = ["DELIMITERS", "choose_encoding", "decoded_lines", "sniff_delimiter"]

DELIMITERS = ",;\t"
#: Bytes read at a time, and the sample the delimiter is sniffed from.
CHUNK = 1 << 16
_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon"}


def choose_encoding(head: bytes, requested: str | None) -> str:
    """The codec to read a file starting with ``head`` (``ConfigError`` if unknown)."""
    if requested is None:
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        return "utf-8-sig"
    try:
        name = codecs.lookup(requested).name
    except LookupError:
        raise ConfigError(
            f"unknown encoding {requested[:32]!r} (e.g. utf-8, cp1252, latin-1, utf-16)"
        ) from None
    return "utf-8-sig" if name == "utf-8" else name


def sniff_delimiter(sample: str, forced: str | None = None) -> str:
    """The delimiter of a file whose first lines are ``sample``: comma, semicolon or tab."""
    if forced is not None:
        value = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}.get(forced, forced)
        if value not in DELIMITERS or len(value) != 1:
            raise ConfigError(f"--delimiter {forced[:8]!r}: use one of , ; tab")
        return value
    lines = sample.splitlines()
    header = lines[0] if lines else ""
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        sample = "\n".join(lines[:-1])  # the last line may be cut mid-way
    try:
        found = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        found = ","
    if found not in header:  # the sniffer guessed from the data: the header decides
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        found = best if counts[best] else ","
    return found


def delimiter_name(delimiter: str) -> str:
    return _NAMES.get(delimiter, delimiter)


def decoded_lines(
    raw: BinaryIO,
    encoding: str,
    label: str,
    progress: Callable[[int], None] | None = None,
) -> Iterator[str]:
    """The file's physical lines, each with its line break (``\\r\\n``, ``\\n`` or ``\\r``).

    Raises :class:`ImportStopped` at the first line holding bytes ``encoding`` cannot
    read, once every line before it has been yielded.  ``progress`` gets the count of
    bytes read so far."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    done = 0  # complete lines yielded
    pending = ""
    read = 0
    while True:
        chunk = raw.read(CHUNK)
        read += len(chunk)
        state = decoder.getstate()
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            decoder.setstate((b"", state[1]))
            good = decoder.decode(exc.object[: exc.start], final=False)
            lines, _ = _split(pending + good)
            yield from lines
            line = done + len(lines) + 1
            raise ImportStopped(
                f"{label}: line {line} is not valid {encoding.removesuffix('-sig')}: "
                "every row before it was imported; give the file's --encoding "
                "(e.g. cp1252) or save it as UTF-8, and import it again (re-imports "
                "change nothing)",
                line=line,
            ) from None
        lines, pending = _split(pending + text)
        done += len(lines)
        yield from lines
        if progress is not None:
            progress(read)
        if not chunk:
            break
    if pending:
        yield pending


def _split(text: str) -> tuple[list[str], str]:
    """Complete lines (with their breaks, split as a file opened with ``newline=""``
    is) and the rest; a final ``\r`` waits for a possible ``\n`` in the next chunk."""
    lines = io.StringIO(text, newline="").readlines()
    if lines and not lines[-1].endswith("\n"):
        return lines[:-1], lines[-1]  # unfinished, or a "\r" that may be a "\r\n"
    return lines, ""
