"""Logging setup: the journal with structured fields under systemd, key=value lines otherwise;
and `LogLimiter`, for what anyone on the LAN can make the node log."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

_SYSLOG_IDENTIFIER = "posedge"
_HANDLER_NAME = "posedge"

# Everything a LogRecord carries by itself; whatever else is on a record came from `extra=`.
_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_JOURNAL_FIELD = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_BARE_VALUE = re.compile(r'[^\s="]+')


def configure_logging(
    level: str = "info",
    *,
    environ: Mapping[str, str] = os.environ,
    stream: TextIO | None = None,
) -> None:
    """Send the root logger to the journal or to ``stream`` (default stderr); safe to call twice."""
    try:
        levelno = logging.getLevelNamesMapping()[level.upper()]
    except KeyError:
        raise ValueError(
            f"unknown log level {level!r}; use debug, info, warning or error"
        ) from None
    stream = sys.stderr if stream is None else stream
    handler = _journal_handler() if _is_journal_stream(stream, environ) else None
    if handler is None:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(_KeyValueFormatter())
    handler.set_name(_HANDLER_NAME)

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME or _is_basic(h)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(levelno)


def _is_journal_stream(stream: TextIO, environ: Mapping[str, str]) -> bool:
    # systemd sets JOURNAL_STREAM=<device>:<inode> of the stream it connected to journald;
    # matching it against our stream tells us output really goes there (see systemd.exec(5)).
    try:
        device, inode = (int(part) for part in environ.get("JOURNAL_STREAM", "").split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError):  # unset or malformed variable, or a stream without an fd
        return False
    return (st.st_dev, st.st_ino) == (device, inode)


def _is_basic(handler: logging.Handler) -> bool:
    """A handler `logging.basicConfig` installed (python-escpos calls it when imported),
    which would print every line a second time."""
    formatter = handler.formatter
    return formatter is not None and formatter._fmt == logging.BASIC_FORMAT


def _journal_handler() -> logging.Handler | None:
    try:
        from systemd.journal import JournalHandler
    except ImportError:
        return None
    return JournalHandler(sender_function=_send_to_journal, SYSLOG_IDENTIFIER=_SYSLOG_IDENTIFIER)


def _send_to_journal(message: str, /, **fields: Any) -> None:
    # Positional-only: the record's own "message" attribute arrives among the fields.
    from systemd import journal

    journal.send(message, **_journal_fields(fields))


def _journal_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Uppercase the caller's ``extra`` names so journald keeps them; drop LogRecord internals.

    JournalHandler passes every record attribute through under its own name, and journald
    silently discards fields that are not uppercase, so ``order_id`` must become ``ORDER_ID``.
    Fields the handler set itself (PRIORITY, LOGGER, CODE_LINE, ...) win over a caller's.
    """
    out = {name: value for name, value in fields.items() if _JOURNAL_FIELD.fullmatch(name)}
    for name, value in fields.items():
        if name in _RECORD_ATTRS or name in out:
            continue
        field = re.sub(r"[^A-Z0-9_]", "_", name.upper()).lstrip("_")
        if _JOURNAL_FIELD.fullmatch(field):
            out.setdefault(field, value)
    return out


class _KeyValueFormatter(logging.Formatter):
    """``LEVEL logger: message key=value ...`` with the fields passed in ``extra``."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        pairs = [
            f"{name}={_format_value(value)}"
            for name, value in record.__dict__.items()
            if name not in _RECORD_ATTRS
        ]
        return " ".join([line, *pairs])


def _format_value(value: object) -> str:
    text = str(value)
    if _BARE_VALUE.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class LogLimiter:
    """Logs a warning at most once per `every` seconds for each key (an address, a user),
    saying how many like it were held back since, so that a burst of refusals is seen
    without flooding the journal. Keys are forgotten once quiet; at most `keys` are kept."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        every: float = 60.0,
        keys: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._every = every
        self._keys = keys
        self._clock = clock
        self._last: dict[str, tuple[float, int]] = {}  # key → (when logged, held back since)

    def warning(self, key: str, message: str, *args: object, **kwargs: Any) -> None:
        now = self._clock()
        logged, held = self._last.get(key, (None, 0))
        if logged is not None and now - logged < self._every:
            self._last[key] = (logged, held + 1)
            return
        if held:
            message += f" ({held} more like it in the last {now - logged:.0f} s)"
        if len(self._last) >= self._keys:
            self._last = {k: v for k, v in self._last.items() if now - v[0] < self._every}
        if len(self._last) < self._keys:
            self._last[key] = (now, 0)
        self._log.warning(message, *args, **kwargs)
