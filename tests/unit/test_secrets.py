"""Secrets never reach logs: the settings view and the log filter both mask them."""

from __future__ import annotations

import logging

from pydantic import SecretStr

from shared.logs import RedactSecrets, redact
from shared.settings import Settings, redact_url


def test_settings_view_masks_the_secret_and_the_database_password() -> None:
    settings = Settings(sunsky_api_secret=SecretStr("s3cr3t"),
                        database_url="postgresql://app:pa55@db:5432/shop")
    view = settings.redacted()
    assert view["sunsky_api_secret"] == "***"
    assert view["database_url"] == "postgresql://app:***@db:5432/shop"
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(view)


def test_redact_url_leaves_urls_without_password_alone() -> None:
    assert redact_url("postgresql://postgres@127.0.0.1:5432/x") == (
        "postgresql://postgres@127.0.0.1:5432/x")


def test_log_filter_masks_signatures_secrets_and_url_passwords() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1,
                               "call signature=%s with secret=%s to %s",
                               ("c908e6a13552aab42ce5f71adf78e21b", "hunter2",
                                "postgresql://u:pw@h/db"), None)
    RedactSecrets().filter(record)
    text = record.getMessage()
    assert "c908e6a1" not in text and "hunter2" not in text and ":pw@" not in text
    assert redact("nothing to hide") == "nothing to hide"


def test_webhook_secrets_are_masked_in_the_settings_view_and_in_log_lines() -> None:
    secret = "whsec_c3Vuc2t5LWRyb3BzaGlwLXNoYXJlZC12ZWN0b3Ita2V5"
    settings = Settings(ingest_secret=SecretStr(secret), perfex_webhook_secret=SecretStr(secret),
                        perfex_webhook_url="https://u:pw@crm.example.com/sunsky_dropship/webhook")
    view = settings.redacted()
    assert (view["ingest_secret"], view["perfex_webhook_secret"]) == ("***", "***")
    assert view["perfex_webhook_url"] == "https://u:***@crm.example.com/sunsky_dropship/webhook"
    assert secret not in str(view)
    assert redact(f"configured with {secret} twice: {secret}") == (
        "configured with whsec_*** twice: whsec_***")


def test_a_registered_secret_is_masked_anywhere_even_in_a_traceback() -> None:
    import io

    from shared.logs import install_redaction, register_secret

    register_secret("Zq8-registered-secret", "", None, "abc")  # short or empty: ignored
    stream = io.StringIO()
    logger = logging.getLogger("test_secrets.replaced")
    logger.handlers[:] = [logging.StreamHandler(stream)]  # as Faust replaces the handlers
    logger.propagate = False
    install_redaction(logger)
    install_redaction(logger)  # once is enough: no second filter
    try:
        raise RuntimeError("connect to https://x/?key=k&sig=Zq8-registered-secret failed")
    except RuntimeError:
        logger.exception("call with %s failed", "Zq8-registered-secret")
    text = stream.getvalue()
    assert "Zq8-registered-secret" not in text and "sig=*** failed" in text
    assert "abc" in redact("abc") and len(logger.handlers[0].filters) == 1
