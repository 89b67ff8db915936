"""The reader/writer gate's promises, which `aiorwlock` does not keep all of (gate.py)."""

from __future__ import annotations

import asyncio

import pytest

from citytools.service.engine.gate import Gate


def enter(gate: Gate) -> bool:
    """A reader as the pool admits one: at once, unless a write holds queries off."""
    if gate.writer:
        return False
    gate.readers += 1
    return True


def test_a_write_waits_for_readers_and_holds_new_ones_then_bumps_the_version() -> None:
    gate = Gate()

    async def scenario() -> list[str]:
        events: list[str] = []
        assert [enter(gate), enter(gate)] == [True, True]  # readers run together

        async def write() -> None:
            async with gate.writing():
                events.append("write")

        writer = asyncio.create_task(write())
        await asyncio.sleep(0)
        events.append(f"reader admitted while the write waits: {enter(gate)}")
        gate.leave()
        await asyncio.sleep(0)
        events.append(f"written with one reader left: {writer.done()}")
        gate.leave()
        await writer
        events.append(f"reader admitted after: {enter(gate)}")
        return events

    assert asyncio.run(scenario()) == [
        "reader admitted while the write waits: False",
        "written with one reader left: False",
        "write",
        "reader admitted after: True",
    ]
    assert gate.version == 1


def test_a_failed_write_still_bumps_the_version_and_opens_the_gate() -> None:
    gate = Gate()

    async def scenario() -> None:
        async with gate.writing():
            raise RuntimeError("the commit failed")

    with pytest.raises(RuntimeError):
        asyncio.run(scenario())
    assert (gate.version, gate.writer) == (1, False)


def test_one_gate_serves_one_event_loop_after_another() -> None:
    gate = Gate()

    async def write() -> None:
        async with gate.writing():
            await asyncio.sleep(0)

    for _ in range(2):
        asyncio.run(write())  # aiorwlock: "bound to a different event loop"
    assert gate.version == 2


def test_a_reader_leaves_from_another_task_and_a_wait_has_a_deadline() -> None:
    gate = Gate()

    async def scenario() -> tuple[bool, bool]:
        assert enter(gate)

        async def write() -> None:
            async with gate.writing():
                pass

        async def leave() -> None:
            gate.leave()  # aiorwlock: "Cannot release an un-acquired lock"

        writer = asyncio.create_task(write())
        await asyncio.sleep(0)
        deadline = asyncio.get_running_loop().time() + 0.01
        timed_out = not await gate.changed.wait(deadline)  # nothing changed meanwhile
        await asyncio.create_task(leave())
        await writer
        return timed_out, gate.writer

    assert asyncio.run(scenario()) == (True, False)
    assert (gate.readers, gate.version) == (0, 1)
