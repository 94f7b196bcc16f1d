"""``reconsent config`` (``Settings.describe``) never shows a password or a secret."""

from __future__ import annotations

import pytest

from reconsent.kernel.url_masking import mask_url_passwords
from reconsent.settings import Settings

SECRET = "s3cret-pw"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql+psycopg://app:{SECRET}@host/db", "postgresql+psycopg://app:***@host/db"),
        (f"postgresql://app:{SECRET}@db.internal:5432/reconsent?sslmode=require",
         "postgresql://app:***@db.internal:5432/reconsent?sslmode=require"),
        (f"postgresql://app:p@ss/{SECRET}@host/db", "postgresql://app:***@host/db"),
        (f"postgresql://app:{SECRET}:x@host/db", "postgresql://app:***@host/db"),
        ("postgresql://app@host/db", "postgresql://app@host/db"),
        ("sqlite:///reconsent.db", "sqlite:///reconsent.db"),
        (f"{{'it': 'https://u:{SECRET}@cdn.example/it.mp3'}}",
         "{'it': 'https://u:***@cdn.example/it.mp3'}"),
    ],
)  # fmt: skip
def test_a_password_in_a_url_is_masked(url: str, shown: str) -> None:
    assert mask_url_passwords(url) == shown


def test_config_never_prints_a_password_or_a_secret() -> None:
    settings = Settings(
        database_url=f"postgresql+psycopg://app:{SECRET}@db.internal/reconsent",
        sendgrid_api_host=f"https://proxy:{SECRET}@sendgrid.proxy.example",
        ivr_audio_urls={"it": f"https://u:{SECRET}@cdn.example/it.mp3"},
        twilio_auth_token=SECRET,
        signing_keys=SECRET,
        _env_file=None,  # no .env of the working directory
    )

    described = settings.describe()

    assert SECRET not in str(described)
    assert described["database_url"] == "postgresql+psycopg://app:***@db.internal/reconsent"
    assert described["sendgrid_api_host"] == "https://proxy:***@sendgrid.proxy.example"
    assert described["twilio_auth_token"] == described["signing_keys"] == "********"
    assert described["controller_address"] == "(unset)"
