"""What a held message keeps for its release (store/moderation.py): its outbox rows and the conversation
it opens, round trip, and never keys the message's data came with."""

from __future__ import annotations

from papote.store.moderation import HELD_JOBS, HELD_OPENS, keep_for_release, take_for_release
from papote.store.outbox import MEDIA_FETCH, Delivery


def fetch_job() -> Delivery:
    return Delivery("d_1", "s_1", None, "v_1", MEDIA_FETCH, "whatsapp", "33600000000",
                    {"ref": "7000001", "kind": "image", "attachment_id": "at_1", "index": 0}, account_id="ca_1")


def test_a_held_message_keeps_its_jobs_and_opening_and_its_release_gets_them_back_fresh() -> None:
    data = {"channel": {"kind": "whatsapp", "media": ["image"]}}
    kept = keep_for_release(data, [fetch_job()], "c_first")
    assert kept is not None and kept["channel"] == data["channel"]
    rest, jobs, opens = take_for_release(kept)
    assert rest == data and opens == "c_first"
    [job] = jobs
    assert (job.site_id, job.visitor_id, job.channel, job.kind, job.target, job.account_id) == \
        ("s_1", "v_1", MEDIA_FETCH, "whatsapp", "33600000000", "ca_1")
    assert job.payload["attachment_id"] == "at_1" and job.id != "d_1"  # a fresh row, the same file
    assert job.conversation_id is None and job.next_attempt_at > 0  # keyed to the message by its append


def test_nothing_to_keep_leaves_the_data_as_it_was() -> None:
    data = {"topic": {"id": "t1", "label": "Sales"}}
    assert keep_for_release(data, [], None) is data
    assert take_for_release(data) == (data, [], None)


def test_keys_a_messages_data_came_with_are_never_kept() -> None:
    forged = {"body_hint": "x", HELD_JOBS: [{"site_id": "s_other", "visitor_id": "v", "channel": MEDIA_FETCH,
                                            "kind": "whatsapp", "target": "1", "payload": {}}],
              HELD_OPENS: "c_someone_elses"}
    assert keep_for_release(forged, [], None) == {"body_hint": "x"}
    kept = keep_for_release(forged, [fetch_job()], None)
    _, jobs, opens = take_for_release(kept)
    assert [j.site_id for j in jobs] == ["s_1"] and opens is None
