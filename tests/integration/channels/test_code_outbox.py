"""The file outbox writes a one-time code message apart from the wave attempts."""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

from channels.outbox import FileOutbox
from consent_portal.code_messages import code_message
from reconsent.kernel.vocab import Channel
from reconsent.settings import Settings

SETTINGS = Settings(_env_file=None, controller_name="Esempio S.r.l.")


def test_the_outbox_writes_a_code_file_apart_from_attempts(tmp_path: Path) -> None:
    outbox = FileOutbox(Channel.EMAIL, tmp_path)
    msg = code_message(SETTINGS, 7, Channel.EMAIL, "anna@example.com", "042137", "en")

    [result] = outbox.send([msg])

    written = tmp_path / "email" / "code-7.eml"
    assert result.outcome == "sent" and written.exists()
    assert not (tmp_path / "email" / "attempt-7.eml").exists()
    parsed = message_from_bytes(written.read_bytes())
    assert parsed["List-Unsubscribe"] is None and parsed["X-Reconsent-Code"] == "7"
    manifest = (tmp_path / "index.jsonl").read_text()
    assert '"code_id":7' in manifest and "042137" not in manifest and "anna" not in manifest
