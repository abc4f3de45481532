"""The status lattice over events."""

from edge.orders.status import Event, Status, derive_status, open_tickets


def event(id_, kind, epoch=0, at=None, **detail):
    return Event(id_, kind, at or f"t{id_}", "x", epoch, detail)


FIRE = event("f1", "fire", stations=["grill", "bar"])


def test_open_fired_ready_closed_in_order():
    assert derive_status([], False) == Status.OPEN
    assert derive_status([FIRE], False) == Status.FIRED
    bumps = [
        event("b1", "bump", fire="f1", station="grill"),
        event("b2", "bump", fire="f1", station="bar"),
    ]
    assert derive_status([FIRE, bumps[0]], False) == Status.FIRED
    assert derive_status([FIRE, *bumps], False) == Status.READY
    assert derive_status([FIRE, *bumps], True) == Status.PAID
    assert derive_status([FIRE, *bumps, event("c", "close")], True) == Status.CLOSED


def test_a_recalled_bump_reopens_its_ticket():
    bump = event("b1", "bump", fire="f1", station="grill")
    recall = event("r1", "recall", bump="b1")
    assert open_tickets([FIRE, bump]) == {("f1", "bar")}
    assert open_tickets([FIRE, bump, recall]) == {("f1", "grill"), ("f1", "bar")}


def test_void_absorbs_everything_whatever_arrives_later():
    events = [FIRE, event("v", "void"), event("c", "close"), event("r", "reopen", epoch=1)]
    assert derive_status(events, True) == Status.VOID


def test_reopen_starts_an_epoch_where_the_old_close_no_longer_counts():
    close = event("c1", "close")
    reopen = event("r1", "reopen", epoch=1)
    assert derive_status([close, reopen], False) == Status.OPEN
    assert derive_status([close, reopen, event("c2", "close", epoch=1)], False) == Status.CLOSED
    # two managers reopening at once land in the same epoch and agree
    assert derive_status([close, reopen, event("r2", "reopen", epoch=1)], False) == Status.OPEN


def test_status_does_not_depend_on_the_order_events_arrive_in():
    events = [
        FIRE,
        event("b1", "bump", fire="f1", station="grill"),
        event("c", "close"),
        event("r", "reopen", epoch=1),
    ]
    assert derive_status(events, False) == derive_status(list(reversed(events)), False)
