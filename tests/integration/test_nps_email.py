"""The NPS survey by email (channels/email/nps_mail.py) end to end: a verified visitor leaves without
answering the survey offered at the close, gets one mail with a link per score; the link's page records
nothing on GET, and its form records the first answer only. SQLite and PostgreSQL, a real SMTP sink."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.harness import PapoteServer, until_io

from .test_email import Sink, ann_writes, mail_server, set_delay, sink, text_of

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]
__all__ = ["mail_server", "sink"]  # fixtures of test_email, used here


def fetch(url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if form is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


async def test_a_visitor_who_left_answers_by_email_once(mail_server: PapoteServer, sink: tuple[Sink, int]) -> None:
    server, (relay, _) = mail_server, sink
    set_delay(server, 0, nps_enabled=True)
    v, cid = await ann_writes(server)
    cookie = server.login()
    assert server.http("POST", f"/api/conversations/{cid}/close", cookie=cookie)[0] == 200
    survey = (await v.expect("message", event="nps", timeout=30))["data"]["survey"]
    await v.close()  # Ann leaves without answering

    mail = await until_io(lambda: next((m for m in relay.mails if "How did we do?" in str(m["Subject"])), None),
                       "the NPS mail")
    assert mail["To"] == "ann@example.test"
    links = re.findall(r"^(\d+): (\S+)$", text_of(mail).replace("\r\n", "\n"), re.MULTILINE)
    assert [n for n, _ in links] == [str(n) for n in range(11)]
    link = dict(links)["8"]
    assert link.startswith(server.base_url + "/email/nps?t=")

    # A GET (a scanner, a preview) only shows the form, with the score of the link chosen.
    status, page = fetch(link)
    assert status == 200 and 'value="8" required checked' in page
    assert server.sql("SELECT score FROM nps_surveys WHERE id=?", survey) == [(None,)]
    action = link.split("&score=")[0]
    status, page = fetch(action, {"score": "8", "comment": "Kind people"})
    assert status == 200 and "Thank you" in page
    status, page = fetch(action, {"score": "1", "comment": "changed my mind"})
    assert status == 200
    assert server.sql("SELECT score, comment, channel FROM nps_surveys WHERE id=?", survey) == [
        (8, "Kind people", "email")]
    assert server.sql("SELECT count(*) FROM messages WHERE conversation_id=? AND event='nps_answered'", cid) == [(1,)]
    # One mail per survey, whatever the rounds since.
    assert len([m for m in relay.mails if "How did we do?" in str(m["Subject"])]) == 1
    # A forged or altered link is refused and changes nothing.
    assert fetch(action.replace("t=", "t=x"))[0] == 404
    assert fetch(action[:-3] + "abc", {"score": "0"})[0] == 404
