"""Reports for a site or one agent: pure computations over `store.report_rows`, tested without a server.

Every duration is measured from the moment the visitor started the conversation (`created_at`):

* **first response**: until the first text an agent wrote (`first_response_at`);
* **wait**: until an agent was assigned (`assigned_at`), the time spent in the queue;
* **resolution**: until the conversation was closed (`closed_at`), for closed ones only;
* **satisfaction**: the visitors' ratings (1–5); CSAT is the share of 4 and 5;
* **NPS**: the answers to the NPS survey (0–10, papote/nps.py), bucketed by when they were answered
  (a survey follows a closing, often days after the conversation started); the score is % promoters
  (9–10) − % detractors (0–6), from −100 to 100, and the report lists the latest comments;
* **missed**: conversations no agent ever answered, once closed or older than `MISSED_AFTER_MS`.
  A conversation a few seconds old is not missed yet: it would make today's numbers lie.

Percentiles use the nearest-rank method: with few conversations an interpolated p90 would report a
duration nobody waited. Buckets are calendar days (or hours) in the site's time zone, so "Monday"
means the site owner's Monday.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from papote.moderation_rules import nps_category, nps_score
from papote.store import ReportRow, Store
from papote.store.moderation import NpsSurvey
from papote.types import Millis

#: An unanswered conversation counts as missed after this long (or as soon as it is closed).
MISSED_AFTER_MS = 15 * 60 * 1000
#: The longest range one report may cover, in buckets: a year of days, or two weeks of hours.
MAX_BUCKETS = 400
#: NPS comments a report lists, latest first: what a person reads in one go; the CSV has the scores.
NPS_COMMENTS = 100
BUCKETS = ("hour", "day")

CSV_COLUMNS = (
    "start", "conversations", "first_response_median_s", "first_response_p90_s", "wait_median_s",
    "resolution_median_s", "ratings", "rating_avg", "csat_pct", "missed", "nps_responses", "nps_score",
)


@dataclass
class Summary:
    conversations: int = 0
    first_response_median_s: float | None = None
    first_response_p90_s: float | None = None
    wait_median_s: float | None = None
    wait_p90_s: float | None = None
    resolution_median_s: float | None = None
    resolution_p90_s: float | None = None
    ratings: int = 0
    rating_avg: float | None = None
    csat_pct: float | None = None
    missed: int = 0
    nps_responses: int = 0
    nps_promoters: int = 0
    nps_passives: int = 0
    nps_detractors: int = 0
    nps_score: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class BotSummary:
    """The bot's part (bot sessions started in the range): how many it took, how many it resolved (the
    visitor reached an end of the tree and wrote no more), how many it handed to a person (asked for,
    not understood, the tree said so, or an agent took it), and the rates over those it finished."""

    conversations: int = 0
    resolved: int = 0
    handovers: int = 0
    #: Still with the bot (the visitor has not come to an end yet).
    active: int = 0
    resolution_rate_pct: float | None = None
    handover_rate_pct: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def bot_summary(outcomes: dict[str, int]) -> BotSummary:
    """From the store's {status: sessions}: rates over the sessions started in the range (None for none)."""
    resolved, handed, active = outcomes.get("resolved", 0), outcomes.get("handover", 0), outcomes.get("active", 0)
    total = resolved + handed + active
    out = BotSummary(total, resolved, handed, active)
    if total:
        out.resolution_rate_pct = round(100 * resolved / total, 1)
        out.handover_rate_pct = round(100 * handed / total, 1)
    return out


@dataclass
class Report:
    summary: Summary
    series: list[tuple[Millis, Summary]] = field(default_factory=list)
    agents: dict[str | None, Summary] = field(default_factory=dict)
    #: The latest NPS answers with a comment: {conversation, score, comment, at}, latest first.
    nps_comments: list[dict[str, Any]] = field(default_factory=list)
    bot: BotSummary = field(default_factory=BotSummary)


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (pct in 0–100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _secs(start: Millis, end: Millis | None) -> float | None:
    if end is None or end < start:
        return None
    return round((end - start) / 1000, 1)


def is_missed(row: ReportRow, now: Millis) -> bool:
    if row.first_response_at is not None:
        return False
    return row.closed_at is not None or now - row.created_at >= MISSED_AFTER_MS


def add_nps(summary: Summary, answers: Iterable[NpsSurvey]) -> Summary:
    scores = [a.score for a in answers if a.score is not None]
    bands = [nps_category(s) for s in scores]
    summary.nps_responses = len(scores)
    summary.nps_promoters = bands.count("promoter")
    summary.nps_passives = bands.count("passive")
    summary.nps_detractors = bands.count("detractor")
    summary.nps_score = nps_score(scores)
    return summary


def summarise(rows: Iterable[ReportRow], now: Millis) -> Summary:
    rows = list(rows)
    first = [s for r in rows if (s := _secs(r.created_at, r.first_response_at)) is not None]
    wait = [s for r in rows if (s := _secs(r.created_at, r.assigned_at)) is not None]
    resolution = [s for r in rows if (s := _secs(r.created_at, r.closed_at)) is not None]
    ratings = [r.rating for r in rows if r.rating is not None]
    out = Summary(conversations=len(rows), missed=sum(is_missed(r, now) for r in rows))
    if first:
        out.first_response_median_s = round(statistics.median(first), 1)
        out.first_response_p90_s = percentile(first, 90)
    if wait:
        out.wait_median_s = round(statistics.median(wait), 1)
        out.wait_p90_s = percentile(wait, 90)
    if resolution:
        out.resolution_median_s = round(statistics.median(resolution), 1)
        out.resolution_p90_s = percentile(resolution, 90)
    if ratings:
        out.ratings = len(ratings)
        out.rating_avg = round(sum(ratings) / len(ratings), 2)
        out.csat_pct = round(100 * sum(1 for r in ratings if r >= 4) / len(ratings), 1)
    return out


def bucket_starts(since: Millis, until: Millis, bucket: str, tz: ZoneInfo) -> list[Millis]:
    """Starts of the calendar buckets covering [since, until), aligned in `tz`."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}")
    local = datetime.fromtimestamp(since / 1000, tz)
    if bucket == "day":
        cursor = local.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        cursor = local.replace(minute=0, second=0, microsecond=0)
    starts: list[Millis] = []
    while True:
        start = int(cursor.timestamp() * 1000)
        if start >= until or len(starts) >= MAX_BUCKETS:
            return starts
        starts.append(start)
        if bucket == "day":
            # Add a calendar day then re-anchor at midnight: across a DST change a day is 23 or 25 h.
            nxt = (cursor.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=tz)
            cursor = nxt.replace(hour=0)
        else:
            cursor = datetime.fromtimestamp((start + 3_600_000) / 1000, tz)


def build_report(
    rows: list[ReportRow], since: Millis, until: Millis, now: Millis, *, bucket: str = "day",
    tz: str = "UTC", agent_id: str | None = None, nps: list[NpsSurvey] | None = None,
) -> Report:
    """The summary, the series and the per-agent breakdown of `rows` (one agent's with `agent_id`), and
    the NPS of the site's `nps` answers (a site-wide measure: not split by agent)."""
    zone = ZoneInfo(tz)
    by_agent: dict[str | None, list[ReportRow]] = {}
    for row in rows:
        by_agent.setdefault(row.assignee_id, []).append(row)
    if agent_id is not None:
        rows = by_agent.get(agent_id, [])
    starts = bucket_starts(since, until, bucket, zone)
    grouped: list[list[ReportRow]] = [[] for _ in starts]
    for row in rows:
        # Rows come sorted by created_at, but a linear scan per row keeps this obviously right.
        for i in range(len(starts) - 1, -1, -1):
            if row.created_at >= starts[i]:
                grouped[i].append(row)
                break
    answers = nps or []
    answered: list[list[NpsSurvey]] = [[] for _ in starts]
    for answer in answers:
        for i in range(len(starts) - 1, -1, -1):
            if (answer.answered_at or 0) >= starts[i]:
                answered[i].append(answer)
                break
    comments = [{"conversation": a.conversation_id, "score": a.score, "comment": a.comment, "at": a.answered_at}
                for a in sorted(answers, key=lambda a: a.answered_at or 0, reverse=True) if a.comment]
    return Report(
        summary=add_nps(summarise(rows, now), answers),
        series=[(start, add_nps(summarise(group, now), a))
                for start, group, a in zip(starts, grouped, answered, strict=True)],
        agents={a: summarise(r, now) for a, r in by_agent.items()},
        nps_comments=comments[:NPS_COMMENTS],
    )


def to_csv(report: Report, tz: str = "UTC") -> str:
    """The series as CSV, one row per bucket, times as ISO 8601 in the site's zone."""
    zone = ZoneInfo(tz)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for start, s in report.series:
        writer.writerow([
            datetime.fromtimestamp(start / 1000, zone).isoformat(), s.conversations,
            _cell(s.first_response_median_s), _cell(s.first_response_p90_s), _cell(s.wait_median_s),
            _cell(s.resolution_median_s), s.ratings, _cell(s.rating_avg), _cell(s.csat_pct), s.missed,
            s.nps_responses, _cell(s.nps_score),
        ])
    s = report.summary
    writer.writerow([
        "total", s.conversations, _cell(s.first_response_median_s), _cell(s.first_response_p90_s),
        _cell(s.wait_median_s), _cell(s.resolution_median_s), s.ratings, _cell(s.rating_avg),
        _cell(s.csat_pct), s.missed, s.nps_responses, _cell(s.nps_score),
    ])
    return out.getvalue()


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


class Reports:
    """The one read a report needs, then `build_report`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def build(self, site_id: str, since: Millis, until: Millis, now: Millis, *, bucket: str, tz: str,
                    agent_id: str | None) -> Report:
        rows = await self.store.report_rows(site_id, since, until)
        nps = await self.store.nps_answers(site_id, since, until)
        report = build_report(rows, since, until, now, bucket=bucket, tz=tz, agent_id=agent_id, nps=nps)
        report.bot = bot_summary(await self.store.bot_outcomes(site_id, since, until))
        return report
