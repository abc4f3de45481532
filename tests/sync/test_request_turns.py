"""Turns at asking peers for a document: one asker at a time per document, the next one
asking once the last was answered, gave up, or lost its turn."""

from __future__ import annotations

from sync.links.request_turns import RequestTurns
from tests.support.waiting import until


class FakeAsker:
    def __init__(self, name: str, log: list[str], *, can_ask: bool = True) -> None:
        self.name, self.log, self.can_ask = name, log, can_ask
        self.lapsed: list[str] = []

    def ask_now(self, guid: str) -> bool:
        if self.can_ask:
            self.log.append(f"{self.name} asks {guid}")
        return self.can_ask

    def turn_lapsed(self, guid: str) -> None:
        self.lapsed.append(guid)


async def test_askers_take_turns_per_document_in_the_order_they_came():
    log: list[str] = []
    turns = RequestTurns()
    a, b, c = (FakeAsker(name, log) for name in "abc")
    turns.ask("day", a)
    turns.ask("day", b)
    turns.ask("catalog", c)  # another document: no need to wait
    turns.ask("day", c)
    turns.ask("day", b)  # already waiting: still one turn
    assert log == ["a asks day", "c asks catalog"]
    turns.answered("day", b)  # not b's turn: changes nothing
    turns.answered("day", a)
    assert log[-1] == "b asks day"
    turns.answered("day", b)
    turns.answered("catalog", c)
    assert log[-1] == "c asks day"
    turns.answered("day", c)
    assert len(log) == 4
    turns.ask("day", a)  # free again: asks at once
    assert log[-1] == "a asks day"


async def test_a_peer_that_does_not_answer_loses_its_turn():
    log: list[str] = []
    turns = RequestTurns(answer_wait=0.05)
    slow, next_ = FakeAsker("slow", log), FakeAsker("next", log)
    turns.ask("day", slow)
    turns.ask("day", next_)
    await until(lambda: log[-1] == "next asks day")
    assert slow.lapsed == ["day"] and next_.lapsed == []
    turns.answered("day", slow)  # a late answer does not take the turn from next
    turns.ask("day", slow)
    assert log == ["slow asks day", "next asks day"]


async def test_a_closed_link_gives_up_its_turn_and_one_with_nothing_to_ask_is_passed():
    log: list[str] = []
    turns = RequestTurns()
    a, b, c = FakeAsker("a", log), FakeAsker("b", log), FakeAsker("c", log)
    gone = FakeAsker("gone", log, can_ask=False)
    turns.ask("day", a)
    turns.ask("day", b)
    turns.ask("day", gone)
    turns.ask("day", c)
    turns.forget(b)  # waiting: leaves the queue
    turns.forget(a)  # holding: the turn passes, past the one that cannot ask, to c
    assert log == ["a asks day", "c asks day"]
    turns.answered("day", c)
    turns.ask("day", b)
    assert log[-1] == "b asks day"
