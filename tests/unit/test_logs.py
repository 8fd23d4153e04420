"""Gatehouse's log lines: JSON, and never a secret, even in a traceback or Django's own
warnings about a path."""

import json
import logging
import sys

from gatehouse import logs


def formatter() -> logging.Formatter:
    spec = dict(logs.configure("INFO", "json")["formatters"]["gatehouse"])
    return spec.pop("()")(**spec)


def test_a_traceback_is_logged_without_the_frames_local_variables():
    password = "hunter2-not-for-logs"  # noqa: F841  (a local the traceback must not show)
    try:
        raise ValueError("the database went away")
    except ValueError:
        record = logging.LogRecord("gatehouse.x", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    line = formatter().format(record)
    parsed = json.loads(line)
    assert parsed["event"] == "failed" and "the database went away" in parsed["exception"]
    assert "hunter2" not in line


def test_djangos_warnings_name_a_path_without_its_tokens():
    flow = "x3HwOGCL7JcwGfHcU14AjM1LtQloqtbllI0ldiEXgQY"
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", (f"/signin/{flow}",), None
    )
    line = formatter().format(record)
    assert flow not in line
    assert json.loads(line)["event"] == "Not Found: /signin/{token}"
