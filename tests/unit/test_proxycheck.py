"""`gatehouse proxy-check`'s judgement of what reached Gatehouse (the requests themselves go
through real nginx and Caddy in tests/e2e/test_nginx.py and test_caddy.py)."""

import pytest

from gatehouse import proxycheck
from gatehouse.cli import main

DEVICE = "X-Client-Cert-SHA256"


def seen_with(address="203.0.113.9", **received) -> dict:
    return {"address": address, "device_header": DEVICE, "headers": received}


def verdicts(forged: dict, seen: dict) -> dict:
    return {f.header: f.forged for f in proxycheck.judge(forged, seen)}


def test_forged_values_replaced_or_removed_on_the_way_are_no_finding():
    forged = proxycheck.forged_headers(DEVICE)
    seen = seen_with(**{"X-Forwarded-For": "203.0.113.9", DEVICE: "ab" * 32, "Remote-User": ""})
    assert not any(verdicts(forged, seen).values())
    assert set(verdicts(forged, seen)) == {"X-Forwarded-For", DEVICE, *proxycheck.IDENTITY_HEADERS}


def test_each_forged_value_that_reached_gatehouse_is_a_finding():
    forged = proxycheck.forged_headers(DEVICE)
    seen = seen_with(
        proxycheck.FORGED_ADDRESS,
        **{DEVICE: forged[DEVICE], "Remote-Email": forged["Remote-Email"]},
    )
    found = verdicts(forged, seen)
    assert found["X-Forwarded-For"] and found[DEVICE] and found["Remote-Email"]
    assert not found["Remote-User"]


def test_a_forged_address_passed_on_but_not_believed_is_no_finding():
    # nginx's $proxy_add_x_forwarded_for keeps the client's entry left of the real one.
    forged = proxycheck.forged_headers(DEVICE)
    seen = seen_with(**{"X-Forwarded-For": f"{proxycheck.FORGED_ADDRESS}, 203.0.113.9"})
    assert not verdicts(forged, seen)["X-Forwarded-For"]


def test_forged_values_are_new_every_time():
    assert proxycheck.forged_headers(DEVICE)[DEVICE] != proxycheck.forged_headers(DEVICE)[DEVICE]


def test_a_report_survives_the_trip_through_a_redirect():
    seen = {"address": None, "headers": {"Remote-Name": "Zoë"}, "probe": "x"}
    assert proxycheck.decode(proxycheck.encode(seen)) == seen
    for bad in ("", "!!", proxycheck.encode([1])):  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            proxycheck.decode(bad)


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["ftp://example.org/"], "is not an http(s) URL"),
        (["https://127.0.0.1:1/"], "https://127.0.0.1:1"),
    ],
)
def test_a_check_that_cannot_be_made_exits_2_with_the_reason(capsys, argv, error):
    assert main(["proxy-check", *argv]) == 2
    assert error in capsys.readouterr().err


def test_resolve_takes_curls_form(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["proxy-check", "https://a.example/", "--resolve", "a.example:443:nowhere"])
    assert exited.value.code == 2
    assert "is not HOST:PORT:ADDRESS" in capsys.readouterr().err
