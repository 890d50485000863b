from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from papote.errors import PapoteError
from papote.sites import localized, normalise_origin, opening, pick_language, validate_settings

HOURS = {"tz": "Europe/Paris", "days": {"mon": [["09:00", "12:00"], ["14:00", "18:00"]], "tue": [["09:00", "18:00"]]}}


def test_defaults_and_merge() -> None:
    s = validate_settings({"color": "#112233", "hours": HOURS})
    assert s["color"] == "#112233" and s["routing"] == "auto" and s["hours"]["tz"] == "Europe/Paris"
    assert s["theme"] == "auto" and validate_settings({"theme": "dark"})["theme"] == "dark"


@pytest.mark.parametrize("changes", [
    {"color": "red"}, {"nope": 1}, {"hours": {"tz": "Mars/Olympus", "days": {}}},
    {"hours": {"tz": "UTC", "days": {"mon": [["18:00", "9:00"]]}}},
    {"rules": [{"id": "x", "trigger": "event", "message": "hi"}]},
    {"custom_css": "</style><script>"}, {"launcher_icon": "javascript:alert(1)"}, {"theme": "sepia"},
    {"hours": {"tz": "UTC", "days": {"mon": [["10:00", "11:00"]] * 11}}},
])
def test_bad_settings_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(PapoteError):
        validate_settings(changes)


def test_opening_hours_in_the_sites_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    s = validate_settings({"hours": HOURS})
    assert opening(s, datetime(2026, 11, 23, 10, 0, tzinfo=paris)) == (True, None)  # a Monday
    open_now, next_open = opening(s, datetime(2026, 11, 23, 12, 30, tzinfo=paris))
    assert not open_now and next_open == int(datetime(2026, 11, 23, 14, 0, tzinfo=paris).timestamp() * 1000)
    open_now, next_open = opening(s, datetime(2026, 11, 24, 19, 0, tzinfo=paris))  # Tuesday evening
    assert not open_now and next_open == int(datetime(2026, 11, 30, 9, 0, tzinfo=paris).timestamp() * 1000)
    assert opening(validate_settings({}), None) == (True, None)


def test_a_span_that_closes_before_it_opens_runs_overnight() -> None:
    paris = ZoneInfo("Europe/Paris")
    s = validate_settings({"hours": {"tz": "Europe/Paris", "days": {"mon": [["22:00", "02:00"]],
                                                                   "wed": [["00:00", "00:00"]]}}})
    assert opening(s, datetime(2026, 11, 23, 23, 0, tzinfo=paris)) == (True, None)  # Monday night
    assert opening(s, datetime(2026, 11, 24, 1, 30, tzinfo=paris)) == (True, None)  # Tuesday, small hours
    open_now, next_open = opening(s, datetime(2026, 11, 24, 2, 0, tzinfo=paris))
    assert not open_now and next_open == int(datetime(2026, 11, 25, 0, 0, tzinfo=paris).timestamp() * 1000)
    assert opening(s, datetime(2026, 11, 25, 23, 59, tzinfo=paris)) == (True, None)  # all of Wednesday


def test_origins_are_normalised() -> None:
    assert normalise_origin("https://Shop.Example:443/") == "https://shop.example"
    assert normalise_origin("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    with pytest.raises(PapoteError):
        normalise_origin("shop.example")


def test_several_spans_a_day_are_kept_in_order_and_overlaps_merged() -> None:
    """A lunch break is two spans; given out of order, they are stored in order, both of them. Spans
    that overlap or touch become one, the whole day absorbs any other span, overnight spans keep
    their next-day close."""
    days = {"mon": [["14:00", "18:00"], ["09:00", "12:30"]],
            "tue": [["09:00", "13:00"], ["12:00", "18:00"], ["18:00", "19:00"]],
            "wed": [["00:00", "00:00"], ["12:00", "18:00"]],
            "thu": [["22:00", "02:00"], ["23:00", "03:00"]],
            "fri": [["20:00", "02:00"], ["08:00", "21:00"]]}
    s = validate_settings({"hours": {"tz": "UTC", "days": days}})
    assert s["hours"]["days"] == {"mon": [["09:00", "12:30"], ["14:00", "18:00"]],
                                  "tue": [["09:00", "19:00"]],
                                  "wed": [["00:00", "00:00"]],
                                  "thu": [["22:00", "03:00"]],
                                  "fri": [["08:00", "02:00"]]}


RULES = [{"id": "cart", "trigger": "event", "event": "add_to_cart", "message": "Free shipping"},
         {"id": "promo", "trigger": "url", "url": "*", "message": "Sale"}]


def test_texts_per_language_are_cleaned_and_follow_the_rules() -> None:
    s = validate_settings({"greeting": "Hi!", "rules": RULES, "translations": {
        "fr": {"greeting": "Bonjour !", "away": "", "rules": {"cart": "Livraison offerte", "promo": ""}},
        "de": {"greeting": "", "away": ""},
    }})
    # Empty texts are the default ones: not stored; a language left with nothing goes.
    assert s["translations"] == {"fr": {"greeting": "Bonjour !", "rules": {"cart": "Livraison offerte"}}}
    # Removing a rule removes its translations; the rest stays.
    s = validate_settings({"rules": RULES[1:]}, s)
    assert s["translations"] == {"fr": {"greeting": "Bonjour !"}}
    # A language whose only texts were for removed rules goes too.
    s = validate_settings({"translations": {"it": {"rules": {"promo": "Saldi"}}}}, s)
    assert s["translations"] == {"it": {"rules": {"promo": "Saldi"}}}
    assert validate_settings({"rules": []}, s)["translations"] == {}


@pytest.mark.parametrize("translations", [
    [], {"fra": {}}, {"FR": {}}, {"fr": "Bonjour"}, {"fr": {"title": "x"}}, {"fr": {"greeting": 3}},
    {"fr": {"away": "x" * 501}}, {"fr": {"rules": {"bad id": "x"}}}, {"fr": {"rules": {"cart": "x" * 1001}}},
    {"fr": {"rules": ["x"]}}, {f"{chr(97 + i // 26)}{chr(97 + i % 26)}": {} for i in range(21)},
])
def test_bad_translations_are_refused_with_bad_field(translations: object) -> None:
    with pytest.raises(PapoteError) as caught:
        validate_settings({"translations": translations})
    assert caught.value.code.value == "bad_field"


def test_a_visitor_reads_their_languages_texts_or_the_default() -> None:
    s = validate_settings({"greeting": "Hi!", "away": "Out.", "rules": RULES,
                           "translations": {"fr": {"greeting": "Bonjour !", "rules": {"cart": "Livraison offerte"}},
                                            "de": {"away": "Weg."}}})
    fr = localized(s, ["fr", "fr-FR"])
    assert fr == {"greeting": "Bonjour !", "away": "Out.", "rules": {"cart": "Livraison offerte", "promo": "Sale"}}
    assert localized(s, ["en", "de-AT"])["away"] == "Weg."  # the browser's language when the widget's has none
    assert localized(s, ["en", None]) == {"greeting": "Hi!", "away": "Out.",
                                          "rules": {"cart": "Free shipping", "promo": "Sale"}}
    assert pick_language({"fr": {}}, [None, "FR_ca"]) == "fr"



def test_groups_of_agents() -> None:
    from papote.sites import group_members

    merged = validate_settings({"groups": [{"id": "sales", "name": " Sales ", "agents": ["a_1", "a_2", "a_1"]},
                                           {"id": "sales", "name": "Again", "agents": []},
                                           {"id": "care", "agents": []}]})
    assert merged["groups"] == [{"id": "sales", "name": "Sales", "agents": ["a_1", "a_2"]},
                                {"id": "care", "name": "care", "agents": []}]
    assert group_members(merged) == {"sales": frozenset({"a_1", "a_2"}), "care": frozenset()}
    for bad in ([{"id": "a b"}], [{"id": "x", "agents": "a_1"}], "sales", [{"id": "x", "name": " "}]):
        with pytest.raises(PapoteError):
            validate_settings({"groups": bad})


def test_the_prechat_form() -> None:
    from papote.sites import topic_of

    merged = validate_settings({"prechat": {"enabled": True, "email": "required", "topics": [
        {"id": "buy", "label": " Buying ", "group": "sales"}, {"id": "buy", "label": "Again"},
        {"id": "other", "label": "buying"}, {"id": "help", "label": "Help"}]}})
    assert merged["prechat"] == {"enabled": True, "name": "optional", "email": "required", "topics": [
        {"id": "buy", "label": "Buying", "group": "sales"}, {"id": "help", "label": "Help"}]}
    assert topic_of(merged, "buy") == {"id": "buy", "label": "Buying", "group": "sales"}
    assert topic_of(merged, "gone") is None and topic_of(merged, None) is None
    for bad in ({"name": "maybe"}, {"topics": [{"id": "x"}]}, {"topics": [{"id": "x", "label": "X", "group": "a b"}]},
                {"colour": 1}):
        with pytest.raises(PapoteError):
            validate_settings({"prechat": bad})
