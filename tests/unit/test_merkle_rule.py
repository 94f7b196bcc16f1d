"""The checkpoint digest: an RFC 6962 Merkle root over sorted chain heads."""

from __future__ import annotations

import hashlib

import pytest

from reconsent.kernel.rules.merkle import (
    EMPTY_ROOT,
    head_line,
    head_lines,
    merkle_root,
    parse_head_line,
)


def _rfc6962(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) as RFC 6962 section 2.1 defines it (recursive, largest power of 2 < n)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _rfc6962(leaves[:k]) + _rfc6962(leaves[k:])).digest()


@pytest.mark.parametrize("n", [*range(0, 18), 31, 32, 33, 100])
def test_the_root_is_rfc6962s(n: int) -> None:
    leaves = [f"subject-{i:04d}\t{i:064x}".encode() for i in range(n)]
    assert merkle_root(leaves) == _rfc6962(leaves).hex()


def test_known_values() -> None:
    assert merkle_root([]) == EMPTY_ROOT == hashlib.sha256(b"").hexdigest()
    # RFC 6962's empty-leaf hash
    assert merkle_root([b""]) == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


def test_any_head_added_removed_or_changed_changes_the_root() -> None:
    heads = [(f"s{i}", f"{i:064x}") for i in range(10)]
    root = merkle_root(head_lines(heads))
    assert merkle_root(head_lines(heads[:-1])) != root
    assert merkle_root(head_lines([*heads, ("s99", "0" * 64)])) != root
    assert merkle_root(head_lines([("s0", "f" * 64), *heads[1:]])) != root
    assert merkle_root(head_lines(reversed(heads))) == root  # order of reading is irrelevant


def test_lines_are_sorted_and_read_back() -> None:
    lines = head_lines([("b", "2" * 64), ("a-b", "1" * 64), ("a", "0" * 64)])
    assert lines == sorted(lines)
    assert [parse_head_line(line)[0] for line in lines] == ["a", "a-b", "b"]
    with pytest.raises(ValueError):
        head_line("a\tb", "0" * 64)
