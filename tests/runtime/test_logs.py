import io
import logging
import os
import sys

import pytest
import systemd.journal
from systemd.journal import JournalHandler

from edge.runtime.logs import configure_logging


@pytest.fixture(autouse=True)
def root_logger():
    """Give each test the root logger as it found it, closing whatever handlers it added."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def added_handlers(root, before):
    return [h for h in root.handlers if h not in before]


def journal_stream_of(stream):
    st = os.fstat(stream.fileno())
    return f"{st.st_dev}:{st.st_ino}"


def test_stderr_line_carries_extra_fields():
    stream = io.StringIO()
    configure_logging("info", environ={}, stream=stream)

    logging.getLogger("edge.orders").info(
        "order %s accepted", 42, extra={"order_id": 42, "peer": "till 2"}
    )

    assert stream.getvalue() == 'INFO edge.orders: order 42 accepted order_id=42 peer="till 2"\n'


def test_stderr_line_without_extra_has_no_trailing_fields():
    stream = io.StringIO()
    configure_logging("debug", environ={}, stream=stream)

    logging.getLogger("edge.app").debug("starting")

    assert stream.getvalue() == "DEBUG edge.app: starting\n"


def test_level_hides_quieter_records():
    stream = io.StringIO()
    configure_logging("warning", environ={}, stream=stream)

    logging.getLogger("edge.app").info("hidden")
    logging.getLogger("edge.app").warning("shown")

    assert stream.getvalue() == "WARNING edge.app: shown\n"


def test_unknown_level_is_rejected():
    with pytest.raises(ValueError, match="verbose"):
        configure_logging("verbose", environ={}, stream=io.StringIO())


def test_configuring_twice_leaves_one_handler(root_logger):
    before = root_logger.handlers[:]
    first, second = io.StringIO(), io.StringIO()

    configure_logging("info", environ={}, stream=first)
    configure_logging("info", environ={}, stream=second)
    logging.getLogger("edge.app").info("once")

    assert len(added_handlers(root_logger, before)) == 1
    assert first.getvalue() == ""
    assert second.getvalue() == "INFO edge.app: once\n"


def test_journal_chosen_when_journal_stream_matches(root_logger, tmp_path):
    before = root_logger.handlers[:]
    with open(tmp_path / "stderr", "w") as stream:
        configure_logging(
            "info", environ={"JOURNAL_STREAM": journal_stream_of(stream)}, stream=stream
        )

    [handler] = added_handlers(root_logger, before)
    assert isinstance(handler, JournalHandler)


def test_journal_receives_extra_fields_uppercased(root_logger, tmp_path, monkeypatch):
    sent = []
    # journald itself cannot run here; capture what would be written to its socket.
    monkeypatch.setattr(systemd.journal, "send", lambda message, /, **fields: sent.append(fields))
    with open(tmp_path / "stderr", "w") as stream:
        configure_logging(
            "info", environ={"JOURNAL_STREAM": journal_stream_of(stream)}, stream=stream
        )

    logging.getLogger("edge.orders").info(
        "order accepted", extra={"order_id": 42, "peer": "till-2", "logger": "spoof"}
    )

    [fields] = sent
    assert fields["ORDER_ID"] == 42
    assert fields["PEER"] == "till-2"
    assert fields["SYSLOG_IDENTIFIER"] == "posedge"
    assert fields["LOGGER"] == "edge.orders"
    assert "order_id" not in fields
    assert "levelname" not in fields


@pytest.mark.parametrize("mismatch", ["inode", "garbage"])
def test_stream_used_when_journal_stream_does_not_match(root_logger, tmp_path, mismatch):
    before = root_logger.handlers[:]
    path = tmp_path / "stderr"
    with open(path, "w") as stream:
        st = os.fstat(stream.fileno())
        value = f"{st.st_dev}:{st.st_ino + 1}" if mismatch == "inode" else "not-a-stream"
        configure_logging("info", environ={"JOURNAL_STREAM": value}, stream=stream)
        logging.getLogger("edge.app").info("to the file")

    [handler] = added_handlers(root_logger, before)
    assert not isinstance(handler, JournalHandler)
    assert path.read_text() == "INFO edge.app: to the file\n"


def test_stream_used_without_systemd_python(root_logger, tmp_path, monkeypatch):
    # Both are needed: `from systemd import journal` is satisfied by the package attribute.
    monkeypatch.setitem(sys.modules, "systemd.journal", None)
    monkeypatch.delattr("systemd.journal")
    before = root_logger.handlers[:]
    with open(tmp_path / "stderr", "w") as stream:
        configure_logging(
            "info", environ={"JOURNAL_STREAM": journal_stream_of(stream)}, stream=stream
        )

    [handler] = added_handlers(root_logger, before)
    assert type(handler) is logging.StreamHandler
