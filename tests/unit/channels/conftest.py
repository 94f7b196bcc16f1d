"""Message builders for the channel unit tests (pure data, no I/O)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reconsent.kernel.ports import MessageContext
from tests.support.messages import MakeMessage, make_context, message_builder

__all__ = ["MakeMessage"]


@pytest.fixture
def make_message() -> MakeMessage:
    return message_builder()


@pytest.fixture
def make_ctx() -> Callable[..., MessageContext]:
    return make_context
