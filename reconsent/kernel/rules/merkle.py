"""The digest a ledger checkpoint signs over every chain head: a Merkle root.

Each chain head is one line ``<subject_id> TAB <head hash>`` (UTF-8); the lines
are sorted (byte order) and are the leaves, in that order, of an RFC 6962
(Certificate Transparency) Merkle tree over SHA-256: a leaf is
``SHA-256(0x00 || line)``, a node ``SHA-256(0x01 || left || right)``, and a
lone node at the end of a level moves up unchanged; the root of no leaves is
``SHA-256("")``. One root fixes every head (a changed, added or missing
subject changes it), and the sorted lines themselves, kept beside the signed
statement, say which subject changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def head_line(subject_id: str, head: str) -> bytes:
    """The leaf of one chain head (no newline)."""
    if any(c in subject_id for c in "\t\n\r"):
        raise ValueError("a subject id cannot hold a tab or a newline")
    return f"{subject_id}\t{head}".encode()


def head_lines(heads: Iterable[tuple[str, str]]) -> list[bytes]:
    """The sorted leaves of ``(subject_id, head hash)`` pairs."""
    return sorted(head_line(subject, head) for subject, head in heads)


def parse_head_line(line: bytes) -> tuple[str, str]:
    subject, _, head = line.decode().partition("\t")
    return subject, head


def merkle_root(lines: Sequence[bytes]) -> str:
    """The RFC 6962 root (hex) of ``lines``, taken in the order given."""
    sha = hashlib.sha256
    level = [sha(b"\x00" + line).digest() for line in lines]
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [
            sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0].hex()
