"""`start_eagerly`: a coroutine runs in the caller's turn, and only what has to wait becomes a task."""

from __future__ import annotations

import asyncio

import pytest

from papote.web.eager import start_eagerly

pytestmark = pytest.mark.asyncio


async def test_a_coroutine_that_does_not_wait_finishes_in_the_callers_turn() -> None:
    done: list[str] = []

    async def write() -> None:
        done.append("written")

    assert start_eagerly(write()) is None
    assert done == ["written"]  # before the loop ran anything else


async def test_an_error_before_the_first_wait_reaches_the_caller() -> None:
    async def write() -> None:
        raise OSError("socket gone")

    with pytest.raises(OSError):
        start_eagerly(write())


async def test_a_coroutine_that_waits_is_finished_by_a_task_with_the_outcome_it_waited_for() -> None:
    drained: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def write() -> None:
        seen.append("framed")
        seen.append(await drained)
        await asyncio.sleep(0)  # a second wait, of another kind
        seen.append("written")

    tail = start_eagerly(write())
    assert tail is not None and seen == ["framed"]
    drained.set_result("drained")
    await asyncio.wait_for(tail, 10)
    assert seen == ["framed", "drained", "written"]


async def test_a_failed_wait_is_raised_inside_the_coroutine() -> None:
    drained: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    caught: list[BaseException] = []

    async def write() -> None:
        try:
            await drained
        except OSError as exc:
            caught.append(exc)

    tail = start_eagerly(write())
    assert tail is not None
    drained.set_exception(OSError("reset"))
    await asyncio.wait_for(tail, 10)
    assert [type(e) for e in caught] == [OSError]


async def test_cancelling_the_task_cancels_the_coroutine_where_it_waits() -> None:
    drained: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    cleaned: list[str] = []

    async def write() -> None:
        try:
            await drained
        finally:
            cleaned.append("finally ran")

    tail = start_eagerly(write())
    assert tail is not None
    await asyncio.sleep(0)  # the task is waiting on the future now
    tail.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(tail, 10)
    assert cleaned == ["finally ran"] and drained.cancelled()
