"""What to print, derived from an order: kitchen tickets and receipts. Pure logic.

The documents are plain JSON-ready dicts, stored with each print job and laid out into
ESC/POS bytes at print time (print_layout.py). Kitchen routing lives here too: which
tickets an order's fires and voids call for at the stations this node prints for.

- A fire event names the lines it sent; each routed station of the fire gets one ticket
  with that station's lines (key `fire:<order>:<fire event>:<station>`).
- Voiding a line that was fired makes a VOID ticket at its station
  (`void:<order>:<line>:<station>`); voiding a whole order after a fire makes one per
  station for its fired lines (`void:<order>:<void event>:<station>`).

Keys are the print jobs' idempotency keys: seeing the same fire twice (a peer's update
replayed, a restart) never makes a second ticket.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from edge.orders.clock import hlc_to_datetime
from edge.orders.refunds import RefundView
from edge.orders.view import LineView, OrderView, percent_text


@dataclass(frozen=True, slots=True)
class TicketRequest:
    """One ticket an order calls for at one station."""

    key: str
    station: str
    event_at: dt.datetime
    document: dict


@dataclass(frozen=True, slots=True)
class ReceiptSettings:
    """The `receipt.*` settings and the store's name, printed on every receipt."""

    store_name: str
    header: tuple[str, ...] = ()
    footer: tuple[str, ...] = ("Thank you!",)


def _ticket_line(line: LineView) -> dict:
    return {
        "qty": line.qty,
        "name": line.name,
        "modifiers": [modifier_text(modifier) for modifier in line.modifiers],
        "note": line.note,
    }


def modifier_text(modifier: dict) -> str:
    """A line's modifier as printed: its name, after how many when more than one."""
    qty = modifier.get("qty", 1)
    return modifier["name"] if qty == 1 else f"{qty} x {modifier['name']}"


def _ticket(
    view: OrderView,
    names: dict[str, str],
    *,
    ticket: str,
    source: str,
    station: str,
    at: str,
    by: str,
    lines: list[LineView],
    reason: str | None = None,
) -> TicketRequest:
    """The ticket `ticket` ("fire" or "void") that entry `source` calls for at `station`."""
    document = {
        "kind": "ticket",
        "ticket": ticket,
        "order_id": view.id,
        "number": view.number,
        "channel": view.channel,
        "table": view.table,
        "guests": view.guests,
        "station": station,
        "station_name": names.get(station, station),
        "fired_at": _iso(hlc_to_datetime(at)),
        "fired_by": by,
        "server": view.server,
        "lines": [_ticket_line(line) for line in lines],
    }
    if reason is not None:
        document["reason"] = reason
    return TicketRequest(
        f"{ticket}:{view.id}:{source}:{station}", station, hlc_to_datetime(at), document
    )


def kitchen_tickets(
    view: OrderView, routes: dict[str, str], station_names: dict[str, str]
) -> list[TicketRequest]:
    """Every ticket `view` calls for at the stations in `routes` (station -> printer)."""
    requests: list[TicketRequest] = []
    fired_at: dict[str, str] = {}  # line id -> the station it was fired to
    lines = {line.id: line for line in view.lines}
    for event in view.events:
        if event.kind != "fire":
            continue
        fired = [lines[i] for i in event.detail.get("lines", ()) if i in lines]
        for station in event.detail.get("stations", ()):
            at_station = [line for line in fired if line.station == station]
            fired_at.update((line.id, station) for line in at_station)
            if station in routes and at_station:
                requests.append(
                    _ticket(
                        view,
                        station_names,
                        ticket="fire",
                        source=event.id,
                        station=station,
                        at=event.at,
                        by=event.by,
                        lines=at_station,
                    )
                )
    for void in view.voids:
        station = fired_at.get(void.line)
        if station in routes:
            requests.append(
                _ticket(
                    view,
                    station_names,
                    ticket="void",
                    source=void.line,
                    station=station,
                    at=void.at,
                    by=void.by,
                    lines=[lines[void.line]],
                    reason=void.reason,
                )
            )
    voided_lines = {void.line for void in view.voids}
    for event in view.events:
        if event.kind != "void":
            continue
        by_station: dict[str, list[LineView]] = {}
        for line in view.lines:
            station = fired_at.get(line.id)
            if station in routes and line.id not in voided_lines:
                by_station.setdefault(station, []).append(line)
        requests += [
            _ticket(
                view,
                station_names,
                ticket="void",
                source=event.id,
                station=station,
                at=event.at,
                by=event.by,
                lines=station_lines,
                reason=str(event.detail.get("reason", "order voided")),
            )
            for station, station_lines in sorted(by_station.items())
        ]
    return requests


def receipt_document(
    view: OrderView, settings: ReceiptSettings, *, currency: str, printed_at: dt.datetime
) -> dict:
    """The receipt of an order as it stands."""
    totals = view.totals
    return {
        "kind": "receipt",
        "store": {
            "name": settings.store_name,
            "header": list(settings.header),
            "footer": list(settings.footer),
        },
        "order_id": view.id,
        "number": view.number,
        "channel": view.channel,
        "table": view.table,
        "opened_at": _iso(hlc_to_datetime(view.opened_at)),
        "printed_at": _iso(printed_at),
        "server": view.server,
        "currency": currency,
        "lines": [
            {
                "qty": line.qty,
                "name": line.name,
                "modifiers": [
                    {"name": modifier_text(m), "price": m["price"] * m.get("qty", 1)}
                    for m in line.modifiers
                ],
                "amount": line.gross,
                "voided": line.voided,
            }
            for line in view.lines
        ],
        "subtotal": totals.subtotal,
        "discounts": [
            {"reason": d.reason or "Discount", "amount": d.amount, "percent": d.percent}
            for d in view.discounts
        ],
        "discount": totals.discount,
        "taxes": [
            {
                "label": f"Tax {percent_text(tax.rate)}%",
                "amount": tax.tax,
                "included": tax.included,
            }
            for tax in totals.taxes
        ],
        "tax": totals.tax,
        "total": totals.total,
        "payments": [
            {"tender": p.tender, "amount": p.amount, "tip": p.tip}
            for p in view.payments
            if p.key not in view.refunds.reversed
        ],
        "refunds": [
            {"tender": r.tender, "amount": r.amount} for r in view.refunds.refunds if r.counted
        ],
        "tips": totals.tips,
        "paid": totals.paid,
        "change": totals.change_due,
        "balance_due": totals.balance_due,
    }


def refund_document(
    view: OrderView,
    refund: RefundView,
    settings: ReceiptSettings,
    *,
    currency: str,
    printed_at: dt.datetime,
) -> dict:
    """The slip of one refund of an order: what went back, on which tender, and why."""
    lines = {line.id: line for line in view.lines}
    return {
        "kind": "refund",
        "store": {"name": settings.store_name, "header": list(settings.header), "footer": []},
        "order_id": view.id,
        "number": view.number,
        "refund_id": refund.id,
        "refunded_at": _iso(hlc_to_datetime(refund.at)),
        "printed_at": _iso(printed_at),
        "currency": currency,
        "tender": refund.tender,
        "amount": refund.amount,
        "reference": refund.reference,
        "reason": refund.reason,
        "items": [
            {"qty": qty, "name": lines[line].name if line in lines else line}
            for line, qty in refund.items
        ],
        "by": refund.employee or refund.by,
        "approved_by": refund.approved_by,
    }


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
