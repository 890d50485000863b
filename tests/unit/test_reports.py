"""papote.reports: the numbers on the reports page, from rows, without a server."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from papote.reports import (
    CSV_COLUMNS,
    MISSED_AFTER_MS,
    bucket_starts,
    build_report,
    is_missed,
    percentile,
    summarise,
    to_csv,
)
from papote.store import ReportRow
from papote.store.moderation import NpsSurvey

DAY = 24 * 3600 * 1000
T0 = int(datetime(2026, 3, 2, tzinfo=ZoneInfo("UTC")).timestamp() * 1000)  # a Monday, 00:00 UTC


def row(cid: str, created: int, *, agent: str | None = "a_1", assigned: int | None = None,
        first: int | None = None, closed: int | None = None, rating: int | None = None) -> ReportRow:
    return ReportRow(cid, agent, created, assigned, first, closed, rating)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 90) is None
    assert percentile([5.0], 90) == 5.0
    values = [float(v) for v in range(1, 11)]  # 1..10
    assert percentile(values, 50) == 5.0
    assert percentile(values, 90) == 9.0
    assert percentile(values, 100) == 10.0


def test_summary_of_durations_ratings_and_missed() -> None:
    now = T0 + DAY
    rows = [
        row("c1", T0, assigned=T0 + 2_000, first=T0 + 10_000, closed=T0 + 60_000, rating=5),
        row("c2", T0, assigned=T0 + 4_000, first=T0 + 30_000, closed=T0 + 120_000, rating=2),
        row("c3", T0, assigned=T0 + 6_000, first=T0 + 20_000, rating=4),
        # Closed without an agent ever writing: missed.
        row("c4", T0, agent=None, closed=T0 + 5_000),
        # Unanswered for long: missed. Unanswered for a few seconds: not yet.
        row("c5", now - MISSED_AFTER_MS - 1, agent=None),
        row("c6", now - 1_000, agent=None),
    ]
    s = summarise(rows, now)
    assert s.conversations == 6
    assert s.first_response_median_s == 20.0
    assert s.first_response_p90_s == 30.0
    assert s.wait_median_s == 4.0
    assert s.resolution_median_s == 60.0  # c1 60 s, c2 120 s, c4 5 s → median 60
    assert s.ratings == 3
    assert s.rating_avg == 3.67
    assert s.csat_pct == 66.7
    assert s.missed == 2
    assert not is_missed(rows[5], now)


def test_empty_summary_says_unknown_not_zero() -> None:
    s = summarise([], T0)
    assert s.conversations == 0
    assert s.first_response_median_s is None
    assert s.rating_avg is None


def test_series_by_day_and_per_agent() -> None:
    rows = [
        row("c1", T0 + 1_000, agent="a_1", first=T0 + 5_000, rating=5),
        row("c2", T0 + DAY + 1_000, agent="a_2", first=T0 + DAY + 3_000),
        row("c3", T0 + DAY + 2_000, agent="a_1", first=T0 + DAY + 12_000, rating=3),
    ]
    report = build_report(rows, T0, T0 + 3 * DAY, T0 + 3 * DAY)
    assert [start for start, _ in report.series] == [T0, T0 + DAY, T0 + 2 * DAY]
    assert [s.conversations for _, s in report.series] == [1, 2, 0]
    assert report.agents["a_1"].conversations == 2
    assert report.agents["a_2"].first_response_median_s == 2.0

    mine = build_report(rows, T0, T0 + 3 * DAY, T0 + 3 * DAY, agent_id="a_1")
    assert mine.summary.conversations == 2
    assert mine.summary.rating_avg == 4.0
    assert [s.conversations for _, s in mine.series] == [1, 1, 0]


def test_days_follow_the_site_time_zone_across_dst() -> None:
    paris = ZoneInfo("Europe/Paris")
    # 2026-03-29: clocks go forward in Paris; that day has 23 hours.
    since = int(datetime(2026, 3, 28, 12, tzinfo=paris).timestamp() * 1000)
    until = int(datetime(2026, 3, 31, tzinfo=paris).timestamp() * 1000)
    starts = bucket_starts(since, until, "day", paris)
    local = [datetime.fromtimestamp(s / 1000, paris) for s in starts]
    assert [(d.day, d.hour) for d in local] == [(28, 0), (29, 0), (30, 0)]
    assert starts[2] - starts[1] == 23 * 3600 * 1000


def test_hour_buckets() -> None:
    starts = bucket_starts(T0 + 30 * 60_000, T0 + 3 * 3_600_000, "hour", ZoneInfo("UTC"))
    assert starts == [T0, T0 + 3_600_000, T0 + 7_200_000]


def test_csv_has_a_row_per_bucket_and_a_total() -> None:
    rows = [row("c1", T0 + 1_000, first=T0 + 5_000, rating=5)]
    text = to_csv(build_report(rows, T0, T0 + 2 * DAY, T0 + 2 * DAY))
    lines = text.strip().split("\n")
    assert lines[0].split(",") == list(CSV_COLUMNS)
    assert lines[1].startswith("2026-03-02T00:00:00+00:00,1,4,4,")
    assert lines[2].startswith("2026-03-03T00:00:00+00:00,0,,,")
    assert lines[3].startswith("total,1,")


def answer(cid: str, at: int, score: int, comment: str = "") -> NpsSurvey:
    return NpsSurvey("n_" + cid, "s_1", cid, "v_1", at - 1000, score, comment, at, "widget")


def test_nps_score_trend_and_comments() -> None:
    nps = [answer("c1", T0 + 1_000, 10, "lovely"), answer("c2", T0 + 2_000, 9), answer("c3", T0 + 3_000, 3, "slow"),
           answer("c4", T0 + DAY + 5, 6)]
    report = build_report([], T0, T0 + 2 * DAY, T0 + 2 * DAY, nps=nps)
    s = report.summary
    assert (s.nps_responses, s.nps_promoters, s.nps_passives, s.nps_detractors) == (4, 2, 0, 2)
    assert s.nps_score == 0.0
    # The trend: one score per bucket, by the day of the answer.
    assert [(x.nps_responses, x.nps_score) for _, x in report.series] == [(3, 33.3), (1, -100.0)]
    assert [c["comment"] for c in report.nps_comments] == ["slow", "lovely"]  # latest first, only with words
    lines = to_csv(report).strip().split("\n")
    assert lines[0].endswith(",nps_responses,nps_score")
    assert lines[1].endswith(",3,33.3") and lines[2].endswith(",1,-100") and lines[3].endswith(",4,0")
    # No answers: no score (not zero).
    assert build_report([], T0, T0 + DAY, T0 + DAY).summary.nps_score is None
