"""How the UI's templates show times: in the store's zone, the way people read them. Pure."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from edge.orders.clock import hlc_to_datetime


def local_time(value: float | str | None, zone: ZoneInfo, *, with_date: bool = False) -> str:
    """An epoch (print jobs), an HLC timestamp (the order log) or an ISO time (users) as
    HH:MM:SS in `zone` ("" when absent, the text itself when it is none of those)."""
    if value is None or value == "":
        return ""
    try:
        if isinstance(value, int | float):
            moment = dt.datetime.fromtimestamp(value, dt.UTC)
        elif "/" in value:
            moment = hlc_to_datetime(value)
        else:
            moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return str(value)
    local = moment.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")
