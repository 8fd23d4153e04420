"""Named-location ranges: what an administrator may type, and which locations an address is in."""

from __future__ import annotations

import ipaddress
import random
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatehouse.access.ranges import RangeError, RangeIndex, parse_cidr, validate_ranges

net = ipaddress.ip_network


def index_of(*entries: tuple[str, str]) -> RangeIndex:
    return RangeIndex((location, parse_cidr(text)) for location, text in entries)


# parse_cidr ---------------------------------------------------------------------------------


def test_range_is_parsed_in_either_family():
    assert parse_cidr("10.0.0.0/8") == net("10.0.0.0/8")
    assert parse_cidr("2001:db8::/32") == net("2001:db8::/32")


def test_bare_address_is_a_single_host_range():
    assert parse_cidr("192.0.2.7") == net("192.0.2.7/32")
    assert parse_cidr("2001:db8::7") == net("2001:db8::7/128")


def test_surrounding_whitespace_is_ignored():
    assert parse_cidr(" 10.0.0.0/8\n") == net("10.0.0.0/8")


def test_malformed_range_is_rejected_with_the_reason():
    with pytest.raises(RangeError) as caught:
        parse_cidr("10.0.0.300/8")
    assert str(caught.value).startswith("'10.0.0.300/8' is not an IP range: ")
    assert "300" in str(caught.value).split(": ", 1)[1]


@pytest.mark.parametrize("text", ["", "office", "10/8", "1.2.3.4/33", "2001:db8::/129", "1.2.3"])
def test_text_that_is_no_range_is_rejected(text):
    with pytest.raises(RangeError, match="is not an IP range"):
        parse_cidr(text)


def test_host_bits_beyond_the_mask_are_reported_not_cleared():
    with pytest.raises(RangeError) as caught:
        parse_cidr("10.1.2.3/8")
    assert str(caught.value) == (
        "'10.1.2.3/8' has host bits set beyond the /8 mask; did you mean 10.0.0.0/8?"
    )


def test_ipv6_host_bits_suggest_the_network():
    with pytest.raises(RangeError, match=r"did you mean 2001:db8::/32\?"):
        parse_cidr("2001:db8::1/32")


def test_zone_id_is_rejected():
    with pytest.raises(RangeError, match="zone id"):
        parse_cidr("fe80::%eth0/64")


def test_range_error_is_a_value_error():
    assert issubclass(RangeError, ValueError)


# validate_ranges ----------------------------------------------------------------------------


def test_location_ranges_are_returned_in_the_order_given():
    assert validate_ranges(["192.0.2.0/24", "10.0.0.0/8", "2001:db8::/32"]) == [
        net("192.0.2.0/24"),
        net("10.0.0.0/8"),
        net("2001:db8::/32"),
    ]


def test_location_without_ranges_is_rejected():
    with pytest.raises(RangeError, match="at least one IP range"):
        validate_ranges([])


def test_range_listed_twice_is_rejected_even_when_spelled_differently():
    with pytest.raises(RangeError) as caught:
        validate_ranges(["10.0.0.1", "192.0.2.0/24", "10.0.0.1/32"])
    assert str(caught.value) == "10.0.0.1/32 is listed twice"


@pytest.mark.parametrize(
    "texts",
    [["10.0.0.0/8", "10.1.0.0/16"], ["10.1.0.0/16", "10.0.0.0/8"]],
    ids=["wide-first", "narrow-first"],
)
def test_range_inside_another_range_of_the_location_is_named(texts):
    with pytest.raises(RangeError) as caught:
        validate_ranges(texts)
    assert str(caught.value) == "10.1.0.0/16 is already covered by 10.0.0.0/8"


def test_nested_range_is_found_however_far_apart_they_are_listed():
    with pytest.raises(
        RangeError, match=re.escape("10.200.1.0/24 is already covered by 10.0.0.0/8")
    ):
        validate_ranges(["10.0.0.0/8", "192.0.2.0/24", "172.16.0.0/12", "10.200.1.0/24"])


def test_ipv6_range_inside_another_is_named():
    with pytest.raises(RangeError, match="2001:db8:1::/48 is already covered by 2001:db8::/32"):
        validate_ranges(["2001:db8::/32", "2001:db8:1::/48"])


def test_adjacent_ranges_and_both_families_are_accepted():
    assert len(validate_ranges(["10.0.0.0/9", "10.128.0.0/9", "11.0.0.0/8", "::/0"])) == 4


def test_bad_entry_in_a_location_is_named():
    with pytest.raises(RangeError, match=re.escape("'10.1.2.3/8' has host bits set")):
        validate_ranges(["192.0.2.0/24", "10.1.2.3/8"])


# RangeIndex ---------------------------------------------------------------------------------


def test_address_is_found_in_every_location_covering_it():
    index = index_of(("hq", "10.0.0.0/8"), ("lab", "10.1.0.0/16"), ("vpn", "192.0.2.0/24"))
    assert index.lookup("10.1.2.3") == {"hq", "lab"}
    assert index.lookup("10.2.0.1") == {"hq"}
    assert index.lookup("192.0.2.200") == {"vpn"}
    assert index.lookup("203.0.113.9") == frozenset()


def test_range_edges_are_inclusive_and_exact():
    index = index_of(("hq", "10.1.0.0/16"))
    assert index.lookup("10.0.255.255") == frozenset()
    assert index.lookup("10.1.0.0") == {"hq"}
    assert index.lookup("10.1.255.255") == {"hq"}
    assert index.lookup("10.2.0.0") == frozenset()


def test_whole_address_space_ranges_work():
    index = index_of(("all4", "0.0.0.0/0"), ("all6", "::/0"))
    assert index.lookup(ipaddress.IPv4Address(0)) == {"all4"}
    assert index.lookup("255.255.255.255") == {"all4"}
    assert index.lookup("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") == {"all6"}


def test_overlapping_ranges_of_one_location_keep_covering_after_the_inner_ends():
    index = index_of(("hq", "10.0.0.0/8"), ("hq", "10.1.0.0/16"), ("lab", "10.1.2.0/24"))
    assert index.lookup("10.1.2.9") == {"hq", "lab"}
    assert index.lookup("10.1.3.0") == {"hq"}
    assert index.lookup("10.9.0.0") == {"hq"}


def test_ipv6_address_is_looked_up_among_ipv6_ranges_only():
    index = index_of(("v6", "2001:db8::/32"), ("v4", "0.0.0.0/0"))
    assert index.lookup("2001:db8:5::1") == {"v6"}
    assert index.lookup("2001:db9::1") == frozenset()


def test_ipv4_mapped_address_counts_as_its_ipv4_address():
    index = index_of(("hq", "10.0.0.0/8"))
    assert index.lookup("::ffff:10.1.2.3") == {"hq"}
    assert index.lookup(ipaddress.ip_address("::ffff:10.1.2.3")) == {"hq"}


def test_range_written_as_ipv4_mapped_ipv6_matches_ipv4_addresses():
    index = index_of(("hq", "::ffff:10.0.0.0/104"))
    assert index.lookup("10.200.0.1") == {"hq"}
    assert index.lookup("::ffff:10.200.0.1") == {"hq"}
    assert index.lookup("11.0.0.1") == frozenset()


def test_address_objects_are_accepted():
    index = index_of(("hq", "10.0.0.0/8"), ("v6", "2001:db8::/32"))
    assert index.lookup(ipaddress.IPv4Address("10.0.0.1")) == {"hq"}
    assert index.lookup(ipaddress.IPv6Address("2001:db8::1")) == {"v6"}


@pytest.mark.parametrize("address", ["", "not-an-ip", "10.0.0.256", "10.0.0.0/8"])
def test_unparseable_address_is_in_no_location(address):
    assert index_of(("all", "0.0.0.0/0")).lookup(address) == frozenset()


def test_empty_index_finds_nothing():
    assert RangeIndex([]).lookup("10.0.0.1") == frozenset()


def test_index_of_100_000_ranges_builds_in_seconds_not_minutes():
    rng = random.Random(7)
    ranges = [
        (f"location{rng.randrange(1000)}", ipaddress.IPv4Network((rng.getrandbits(24) << 8, 24)))
        for _ in range(100_000)
    ]
    start = time.perf_counter()
    index = RangeIndex(ranges)
    assert time.perf_counter() - start < 5
    location, network = ranges[12_345]
    assert location in index.lookup(network[17])


# Lookups agree with a scan of every range ----------------------------------------------------

# A small address space (10.0.0.0/24 and 2001:db8::/120) so that ranges overlap often.
v4_networks = st.builds(
    lambda host, prefix: ipaddress.IPv4Network((0x0A000000 | host, 32)).supernet(new_prefix=prefix),
    st.integers(0, 255),
    st.integers(24, 32),
)
v6_networks = st.builds(
    lambda host, prefix: ipaddress.IPv6Network(((0x20010DB8 << 96) | host, 128)).supernet(
        new_prefix=prefix
    ),
    st.integers(0, 255),
    st.integers(120, 128),
)
entries = st.lists(
    st.tuples(st.sampled_from(["hq", "lab", "vpn", "home"]), v4_networks | v6_networks),
    max_size=25,
)
addresses = st.builds(
    lambda host: ipaddress.IPv4Address(0x0A000000 | host), st.integers(0, 256)
) | (st.builds(lambda host: ipaddress.IPv6Address((0x20010DB8 << 96) | host), st.integers(0, 256)))


@given(entries, st.lists(addresses, min_size=1, max_size=20))
def test_lookup_agrees_with_scanning_every_range(ranges, probes):
    index = RangeIndex(ranges)
    for address in probes:
        expected = {location for location, network in ranges if address in network}
        assert index.lookup(address) == expected
        assert index.lookup(str(address)) == expected
        if address.version == 4:
            assert index.lookup(f"::ffff:{address}") == expected


def test_zone_id_of_a_link_local_peer_is_ignored():
    assert index_of(("lan", "fe80::/10")).lookup("fe80::1%eth0") == {"lan"}
