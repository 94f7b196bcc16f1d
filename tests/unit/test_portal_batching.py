"""The batcher (the portal's decisions, the operator API's captures) and page shells:
pure asyncio and Jinja, no database."""

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


async def _settle() -> None:
    """Let every ready task run to its next wait (no clock involved)."""
    for _ in range(10):
        await asyncio.sleep(0)


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


def test_with_two_writers_a_second_batch_is_written_while_the_first_waits() -> None:
    release = asyncio.Event()
    writing: list[list[int]] = []

    async def write(items: list[int]) -> list[int]:
        writing.append(list(items))
        if items[0] == 0:
            await release.wait()  # the first batch is held up (a lock, the database)
        return items

    async def main() -> list[int]:
        batcher = Batcher(write, writers=2)
        first = asyncio.ensure_future(batcher.submit(0))
        await _settle()  # the first batch is being written
        later = [asyncio.ensure_future(batcher.submit(i)) for i in (1, 2, 3)]
        done = await asyncio.gather(*later)  # written by the second writer, at once
        assert writing == [[0], [1, 2, 3]]
        release.set()
        return [await first, *done]

    assert _run(main()) == [0, 1, 2, 3]


def test_one_writer_waits_for_its_batch_before_the_next() -> None:
    release = asyncio.Event()
    writing: list[list[int]] = []

    async def write(items: list[int]) -> list[int]:
        writing.append(list(items))
        if items[0] == 0:
            await release.wait()
        return items

    async def main() -> list[int]:
        batcher = Batcher(write)
        first = asyncio.ensure_future(batcher.submit(0))
        await _settle()
        later = [asyncio.ensure_future(batcher.submit(i)) for i in (1, 2)]
        await _settle()
        assert writing == [[0]]  # the others wait for the one writer
        release.set()
        return [await first, *await asyncio.gather(*later)]

    assert _run(main()) == [0, 1, 2]
    assert writing == [[0], [1, 2]]


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
