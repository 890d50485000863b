"""The pure rules of privacy: what is stored of a client address, retention's cutoffs, the settings."""

from __future__ import annotations

import pytest

from papote.addresses import stored_address
from papote.errors import PapoteError
from papote.privacy import DAY_MS, cutoffs
from papote.sites import validate_settings


@pytest.mark.parametrize(("host", "mode", "expected"), [
    ("203.0.113.77", "truncated", "203.0.113.0/24"),
    ("203.0.113.77", "full", "203.0.113.77"),
    ("203.0.113.77", "none", ""),
    ("2001:db8:1234:5678:9abc::1", "truncated", "2001:db8:1234::/48"),
    ("2001:db8:1234:5678:9abc::1", "full", "2001:db8:1234:5678::/64"),
    ("::ffff:198.51.100.9", "truncated", "198.51.100.0/24"),
    (None, "truncated", "local"),
    ("not-an-address", "truncated", "not-an-address"),
])
def test_what_is_stored_of_a_client_address(host: str | None, mode: str, expected: str) -> None:
    assert stored_address(host, mode) == expected


def test_cutoffs_follow_the_retention_settings() -> None:
    now = 100 * DAY_MS
    assert cutoffs(validate_settings({}), now) == {}
    settings = validate_settings({"retention_messages_days": 30, "retention_attachments_days": 7})
    assert cutoffs(settings, now) == {"messages": 70 * DAY_MS, "attachments": 93 * DAY_MS}


@pytest.mark.parametrize("changes", [
    {"retention_messages_days": 0}, {"retention_visitors_days": 3651}, {"retention_attachments_days": True},
    {"retention_messages_days": "30"}, {"consent_required": "yes"},
])
def test_bad_privacy_settings_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(PapoteError) as refused:
        validate_settings(changes)
    assert refused.value.code.value == "bad_field"


def test_consent_mode_wins_over_storage_always() -> None:
    from papote.sites import widget_storage

    assert widget_storage(validate_settings({"consent_required": True, "storage": "always"})) == "consent"
    assert widget_storage(validate_settings({"storage": "always"})) == "always"


def test_privacy_settings_default_to_keeping_and_asking_nothing() -> None:
    settings = validate_settings({"retention_visitors_days": None, "consent_required": True})
    assert settings["consent_required"] is True and settings["storage"] == "consent"
    assert [settings[f"retention_{w}_days"] for w in ("messages", "visitors", "attachments")] == [None] * 3
