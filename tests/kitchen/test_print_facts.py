"""What a node prints for a store printer it drives, from the print facts in the order log
(edge/kitchen/print_facts.py): nothing for a ticket printed anywhere, a REPRINT for one
another node sent and never confirmed or one an unheard-from node may have printed, the
ticket itself otherwise; and the facts themselves, as the order log keeps them."""

from __future__ import annotations

from edge.kitchen.print_facts import Decision, Takeover, decide
from edge.orders.log import Actor

PRINTED = {"printed|n1": {"printer": "kitchen"}, "sent|n1": {}}
SENT = {"sent|n1": {"printer": "kitchen"}}


def test_a_ticket_printed_anywhere_is_not_printed_again():
    assert decide(PRINTED, "n2", None, 10.0) == Decision(
        skip_reason="printed on n1; not printed again"
    )


def test_a_ticket_another_node_sent_but_never_confirmed_prints_marked():
    assert decide(SENT, "n2", Takeover("n1", "closed", 20.0), 10.0) == Decision(reprint=True)


def test_a_ticket_this_node_sent_itself_is_not_a_reprint_by_the_facts():
    assert decide({"sent|n2": {}}, "n2", None, 10.0) == Decision()


def test_an_unsent_ticket_prints_as_itself_after_a_kill_or_a_stop():
    for ending in ("closed", "stopped"):
        assert decide({}, "n2", Takeover("n1", ending, 20.0), 10.0) == Decision()


def test_after_a_silent_node_only_fires_it_could_have_known_print_marked():
    silent = Takeover("n1", "silent", 20.0)
    assert decide({}, "n2", silent, 10.0) == Decision(reprint=True)  # before it went quiet
    assert decide({}, "n2", silent, 30.0) == Decision()  # after: it cannot have had it


async def test_the_order_log_keeps_each_nodes_facts_apart(book):
    order = await book.open_order(Actor("till"))
    await book.record_print_fact(order.id, "fire-1/grill", "sent", "kitchen")
    await book.record_print_fact(order.id, "fire-1/grill", "printed", "kitchen")
    facts = await book.print_facts(order.id)
    assert set(facts) == {"fire-1/grill"}
    assert set(facts["fire-1/grill"]) == {"sent|node-a", "printed|node-a"}
    assert facts["fire-1/grill"]["printed|node-a"]["printer"] == "kitchen"
