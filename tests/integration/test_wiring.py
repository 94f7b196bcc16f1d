"""The one wiring module: what it caches, and for whom."""

from __future__ import annotations

from pathlib import Path

from channels.sendgrid_email import SendGridEmail
from reconsent.kernel.vocab import Channel
from reconsent.settings import ChannelMode
from reconsent.wiring import get_runtime, reset_runtimes, settings_fingerprint, sms_adapter
from tests.conftest import make_settings


def test_settings_that_differ_only_in_a_secret_get_their_own_runtime(
    tmp_path: Path, sqlite_url: str
) -> None:
    base = {"channel_mode": ChannelMode.AUTO, "sendgrid_api_host": "http://127.0.0.1:9"}
    one = make_settings(tmp_path, sqlite_url, sendgrid_api_key="SG.one", **base)
    two = make_settings(tmp_path, sqlite_url, sendgrid_api_key="SG.two", **base)
    assert one.model_dump_json() == two.model_dump_json()  # secrets are masked there
    assert settings_fingerprint(one) != settings_fingerprint(two)
    try:
        first, second = get_runtime(one), get_runtime(two)
        assert first is not second
        assert get_runtime(one) is first  # and the cache still serves equal settings
        keys = []
        for runtime in (first, second):
            adapter = runtime.adapters[Channel.EMAIL]
            assert isinstance(adapter, SendGridEmail)
            keys.append(adapter._client.api_key)  # the SDK client holds the key
        assert keys == ["SG.one", "SG.two"]
    finally:
        reset_runtimes()


def test_a_signing_key_rotation_is_a_new_runtime(tmp_path: Path, sqlite_url: str) -> None:
    old = make_settings(tmp_path, sqlite_url, signing_keys=["k1"])
    new = make_settings(tmp_path, sqlite_url, signing_keys=["k1", "k2"])
    assert settings_fingerprint(old) != settings_fingerprint(new)


def test_the_runtime_keeps_one_dispatcher_so_pacing_spans_batches(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = make_settings(tmp_path, sqlite_url, send_rate_per_second={"sms": 1.0})
    try:
        runtime = get_runtime(settings)
        dispatcher = runtime.dispatcher
        assert runtime.dispatcher is dispatcher  # not rebuilt per batch
        bucket = dispatcher.pacer.buckets[Channel.SMS]
        assert bucket.reserve(3, now=100.0) > 0  # a first batch spends the burst...
        # ...and the next batch of the same process sees the debt instead of a full bucket.
        assert runtime.dispatcher.pacer.buckets[Channel.SMS].reserve(1, now=100.0) > 2.0
    finally:
        reset_runtimes()


def test_the_sms_adapter_is_built_once_per_settings(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    assert sms_adapter(settings) is sms_adapter(settings)
