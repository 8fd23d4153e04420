"""Event-loop request helpers (gatehouse/hotpath.py)."""

import pytest

from gatehouse import hotpath


def test_work_that_would_block_says_so_inside_without_blocking_only():
    def work() -> str:
        hotpath.may_block()
        return "done"

    assert work() == "done"
    with pytest.raises(hotpath.WouldBlock):
        hotpath.without_blocking(work)
    assert work() == "done"  # the guard is lifted after


def test_headers_are_read_by_lower_case_name_and_repeats_joined_as_http_does():
    header = hotpath.header_reader(
        [
            (b"cookie", b"a=1"),
            (b"x-forwarded-for", b"10.0.0.1"),
            (b"cookie", b"gatehouse_session=abc"),
            (b"x-forwarded-for", b"10.0.0.2"),
            (b"x-original-url", "https://mail.example.org/é".encode("latin-1")),
        ]
    )
    assert header("cookie") == "a=1; gatehouse_session=abc"
    assert header("x-forwarded-for") == "10.0.0.1, 10.0.0.2"
    assert header("x-original-url") == "https://mail.example.org/é"
    assert header("accept") == ""


def test_headers_given_as_any_iterable():
    header = hotpath.header_reader(iter([(b"accept", b"text/html")]))
    assert header("accept") == "text/html"
