"""The one duration grammar (gatehouse.durations): configuration, policy files, command
options and the admin API all read it."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatehouse import config, durations
from gatehouse.access.policyfile import PolicyFileError, policy_from_dict
from gatehouse.cli import main

UNITS = st.sampled_from(list(durations.UNIT_SECONDS))
AMOUNTS = st.integers(min_value=1, max_value=999_999_999)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1),
        ("90s", 90),
        ("30m", 1800),
        ("8h", 28800),
        ("2d", 172800),
        ("999999999d", 999999999 * 86400),
    ],
)
def test_examples(text, seconds):
    assert durations.parse(text) == seconds


@given(AMOUNTS, UNITS)
def test_every_amount_and_unit_is_read(amount, unit):
    seconds = durations.parse(f"{amount}{unit}")
    assert seconds == amount * durations.UNIT_SECONDS[unit]
    assert timedelta(seconds=seconds)  # fits


@given(AMOUNTS, UNITS)
def test_written_durations_read_back_in_their_largest_exact_unit(amount, unit):
    seconds = amount * durations.UNIT_SECONDS[unit]
    text = durations.format(seconds)
    assert durations.parse(text) == seconds
    unit = text[-1]
    bigger = [
        size for size in durations.UNIT_SECONDS.values() if size > durations.UNIT_SECONDS[unit]
    ]
    assert all(seconds % size for size in bigger)


@pytest.mark.parametrize(
    "text",
    [
        "0s",  # no zero: every duration read is a lifetime or a period
        "0d",
        "00m",
        "030m",  # no leading zero
        "-5m",
        "+5m",
        "5",
        "m",
        "",
        " 5m",
        "5m ",
        "5 m",
        "1.5h",
        "1h30m",
        "5M",
        "5w",
        "٣m",  # ASCII digits only
        "1000000000s",  # ten digits: might not fit a timedelta
        "9999999999999999999999d",
        "5m\n",
    ],
)
def test_refused(text):
    with pytest.raises(ValueError, match="expected a duration such as 90s, 30m, 8h or 2d"):
        durations.parse(text)


@given(st.integers())
def test_any_number_of_seconds_is_written_so_that_it_reads_back_or_refused(seconds):
    try:
        text = durations.format(seconds)
    except ValueError:
        assert seconds < 1 or seconds >= 1_000_000_000
        return
    assert durations.parse(text) == seconds


@pytest.mark.parametrize("value", [None, 300, 5.0, b"5m", ["5m"]])
def test_only_text_is_a_duration(value):
    with pytest.raises(ValueError):
        durations.parse(value)


@given(st.text(max_size=12))
def test_whatever_the_text_a_duration_or_a_value_error(text):
    try:
        seconds = durations.parse(text)
    except ValueError:
        return
    assert seconds >= 1 and durations.parse(durations.format(seconds)) == seconds


@pytest.mark.parametrize("text", ["0s", "5 m", " 30m"])
def test_config_policy_files_and_commands_agree(text, tmp_path, capsys):
    """The same text is refused by all three readers (`0s` used to be accepted by one)."""
    path = tmp_path / "gatehouse.toml"
    path.write_text(f'[session]\nlifetime = "{text}"\n')
    with pytest.raises(config.ConfigError, match="expected a duration"):
        config.load(path, environ={})
    with pytest.raises(PolicyFileError, match="is not a duration"):
        policy_from_dict({"id": "x", "session": {"sign_in_frequency": text}})
    with pytest.raises(SystemExit) as exited:
        main(["tap", "issue", "alice", "--lifetime", text])
    assert exited.value.code == 2
    assert "expected a duration such as" in capsys.readouterr().err
