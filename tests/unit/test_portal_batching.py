"""The portal's decision batcher and page shells: pure asyncio and Jinja, no database."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

import jinja2
import pytest

from consent_portal.shells import build_shell
from reconsent.kernel.batching import Batcher

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def test_posts_arriving_together_share_one_write_and_get_their_own_results() -> None:
    calls: list[list[int]] = []

    async def write(items: list[int]) -> list[int]:
        calls.append(list(items))
        await asyncio.sleep(0)
        return [item * 10 for item in items]

    async def main() -> list[int]:
        batcher = Batcher(write, max_batch=3)
        return list(await asyncio.gather(*(batcher.submit(i) for i in range(7))))

    assert _run(main()) == [0, 10, 20, 30, 40, 50, 60]
    assert calls == [[0, 1, 2], [3, 4, 5], [6]]  # never more than max_batch per write


def test_a_lone_post_is_written_at_once() -> None:
    async def write(items: list[str]) -> list[str]:
        return [item.upper() for item in items]

    async def main() -> tuple[str, str]:
        batcher = Batcher(write)
        first = await batcher.submit("a")
        return first, await batcher.submit("b")

    assert _run(main()) == ("A", "B")


def test_a_failed_write_fails_its_batch_only() -> None:
    async def write(items: list[int]) -> list[int]:
        if 0 in items:
            raise RuntimeError("database down")
        return items

    async def main() -> tuple[tuple[int | BaseException, ...], int]:
        batcher = Batcher(write, max_batch=2)
        failed = await asyncio.gather(batcher.submit(0), batcher.submit(1), return_exceptions=True)
        return failed, await batcher.submit(5)

    failed, later = _run(main())
    assert [type(r) for r in failed] == [RuntimeError, RuntimeError]
    assert later == 5


def test_a_write_with_the_wrong_number_of_results_is_an_error() -> None:
    async def write(items: list[int]) -> list[int]:
        return []

    async def main() -> None:
        await Batcher(write).submit(1)

    with pytest.raises(RuntimeError, match="one result per item"):
        _run(main())


ENV = jinja2.Environment(autoescape=True)
PAGE = ENV.from_string(
    '<h1>{{ title }}</h1><p>{{ greeting }}</p><a href="{{ url }}?x=1">{{ title }}</a>'
    '<input value="{{ nonce }}">'
)


def _context(slots: Mapping[str, str]) -> dict[str, str]:
    return {
        "title": "Privacy & you",
        "greeting": slots["greeting"],
        "url": "/c/" + slots["token"],
        "nonce": slots["nonce"],
    }


def test_a_shell_fills_in_exactly_what_a_full_render_gives() -> None:
    shell = build_shell(PAGE.render, _context, frozenset({"greeting", "token", "nonce"}))
    for values in (
        {"greeting": "Ciao Giulia", "token": "abc.def-ghi", "nonce": "n1"},
        {"greeting": '<script>alert("x")</script> & Co', "token": "a&b", "nonce": "\"'"},
    ):
        assert shell.fill(values) == PAGE.render(_context(values))
        assert "<script>" not in shell.fill(values)


def test_a_template_that_alters_a_slot_is_refused() -> None:
    page = ENV.from_string("<p>{{ greeting|upper }}</p>")
    with pytest.raises(ValueError, match="altered or dropped"):
        build_shell(
            page.render, lambda slots: {"greeting": slots["greeting"]}, frozenset({"greeting"})
        )
    dropped = ENV.from_string("<p>static</p>")
    with pytest.raises(ValueError, match="altered or dropped"):
        build_shell(dropped.render, lambda slots: {}, frozenset({"greeting"}))
