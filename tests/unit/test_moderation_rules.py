"""The spam filter's rules and the NPS arithmetic (papote/moderation_rules.py), without a server."""

from __future__ import annotations

import pytest

from papote.errors import PapoteError
from papote.moderation_rules import (
    RATE_WINDOW_MS,
    RecentSends,
    check_setting,
    count_links,
    judge,
    matched_words,
    nps_category,
    nps_score,
)
from papote.sites import validate_settings


def test_words_match_whole_words_without_case_or_accents() -> None:
    words = ["casino", "crédit facile", "sex"]
    assert matched_words("Best CASINO in town", words) == ["casino"]
    assert matched_words("un CREDIT   facile", words) == []  # a phrase is matched as written
    assert matched_words("un credit facile ici", words) == ["crédit facile"]
    assert matched_words("I live in Essex", words) == []  # not inside another word
    assert matched_words("casinos", words) == []


def test_links_count_urls_and_bare_domains() -> None:
    assert count_links("see https://a.test/x and www.b.test and shop.example.com/path") == 3
    assert count_links("my order 12.50 is late. Thanks!") == 0
    assert count_links("write to me at ann.fr") == 1


def test_judge_gives_each_rule_its_reason() -> None:
    settings = {"spam_words": ["casino"], "spam_max_links": 1, "spam_rate": 5}
    assert not judge("hello, where is my parcel?", settings, 0).held
    assert judge("casino bonus", settings, 0).reasons == ("words",)
    assert judge("http://a.test http://b.test", settings, 0).reasons == ("links",)
    assert judge("hi", settings, 5).reasons == ("rate",)
    verdict = judge("casino http://a.test http://b.test", settings, 9)
    assert verdict.reasons == ("words", "links", "rate") and verdict.words == ("casino",)
    # Rules turned off.
    off = {"spam_words": [], "spam_max_links": None, "spam_rate": None}
    assert not judge("casino http://a.test http://b.test", off, 1000).held


def test_recent_sends_forget_what_left_the_window_and_old_authors() -> None:
    recent = RecentSends(max_authors=2)
    assert [recent.count_and_add("v1", t) for t in (0, 1000, 2000)] == [0, 1, 2]
    assert recent.count_and_add("v1", RATE_WINDOW_MS + 1500) == 1  # 0 and 1000 left the window
    recent.count_and_add("v2", 0)
    recent.count_and_add("v3", 0)  # three authors for two places: v1, idle longest, is forgotten
    assert recent.count_and_add("v1", RATE_WINDOW_MS + 1600) == 0


def test_nps_bands_and_score() -> None:
    assert [nps_category(s) for s in (0, 6, 7, 8, 9, 10)] == [
        "detractor", "detractor", "passive", "passive", "promoter", "promoter"]
    assert nps_score([]) is None
    assert nps_score([10, 9, 8, 3]) == 25.0  # 50 % promoters - 25 % detractors
    assert nps_score([0, 1]) == -100.0
    assert nps_score([7, 8]) == 0.0


def test_settings_are_checked() -> None:
    s = validate_settings({"spam_words": [" casino ", "casino", "bonus"], "nps_enabled": True, "nps_every_days": 30})
    assert s["spam_words"] == ["casino", "bonus"] and s["nps_enabled"] and s["nps_every_days"] == 30
    defaults = validate_settings({})  # every rule is off until a site turns it on
    assert (defaults["spam_words"], defaults["spam_max_links"], defaults["spam_rate"], defaults["nps_enabled"]) == (
        [], None, None, False)
    assert check_setting("spam_rate", None) is None
    for key, value in [("spam_words", "casino"), ("spam_words", [""]), ("spam_words", ["x" * 61]),
                       ("spam_max_links", -1), ("spam_rate", True), ("nps_enabled", 1), ("nps_every_days", 0)]:
        with pytest.raises(PapoteError) as err:
            validate_settings({key: value})
        assert err.value.code.value == "bad_field"
