"""Benchmark of conditional access as one sign-in pays for it: looking up the client address in
the named-location ranges, then evaluating every policy. Run from the repository root:

    python bench/engine.py [--evaluations N] [--seed S]

It prints, per number of ranges and policies, evaluations per second and p50/p99 per
evaluation on one core, and the time to build the range index.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gatehouse.access.engine import (
    Action,
    ClientType,
    Device,
    Grant,
    LocationCondition,
    Policy,
    PolicySet,
    SessionControls,
    SignInContext,
    Target,
    UserCondition,
    evaluate,
)
from gatehouse.access.ranges import Network, RangeIndex

RANGE_COUNTS = (10, 1_000, 100_000)
POLICY_COUNTS = (10, 200)
APPS = [f"app{i}.example.org" for i in range(30)]
GROUPS = [f"group{i}" for i in range(40)]
USERS = [f"user{i}" for i in range(2_000)]
CLIENT_TYPE_CONDITIONS: tuple[frozenset[ClientType], ...] = (
    frozenset(),
    frozenset({"legacy"}),
    frozenset({"browser", "modern"}),
)
ACTIONS: tuple[Action, ...] = ("signin", "register")
DEVICES: tuple[Device, ...] = ("managed", "personal")
CLIENT_TYPES: tuple[ClientType, ...] = ("browser", "modern", "legacy")


def random_ranges(rng: random.Random, count: int) -> list[tuple[str, Network]]:
    """Mostly IPv4 office and VPN blocks, some IPv6, spread over count/100 locations."""
    locations = [f"location{i}" for i in range(max(3, count // 100))]
    ranges: list[tuple[str, Network]] = []
    for _ in range(count):
        if rng.random() < 0.9:
            prefix = rng.choice((16, 20, 22, 24, 24, 26, 28, 29, 30, 32))
            network: Network = ipaddress.IPv4Network((rng.getrandbits(32), 32)).supernet(
                new_prefix=prefix
            )
        else:
            prefix = rng.choice((32, 48, 56, 64))
            network = ipaddress.IPv6Network(
                ((0x2001_0DB8 << 96) | rng.getrandbits(96), 128)
            ).supernet(new_prefix=prefix)
        ranges.append((rng.choice(locations), network))
    return ranges


def random_policies(rng: random.Random, count: int, locations: list[str]) -> list[Policy]:
    """A tenant's mix: broad baseline policies, many scoped to groups and apps, a few blocks."""
    policies = []
    for i in range(count):
        pick = rng.random()
        if pick < 0.3:
            users = UserCondition(include_all=True, exclude_groups=frozenset({"breakglass"}))
        elif pick < 0.8:
            users = UserCondition(include_groups=frozenset(rng.sample(GROUPS, rng.randint(1, 3))))
        else:
            users = UserCondition(include_users=frozenset(rng.sample(USERS, rng.randint(1, 5))))
        pick = rng.random()
        if pick < 0.4:
            target = Target(apps_all=True, exclude_apps=frozenset(rng.sample(APPS, 1)))
        elif pick < 0.9:
            target = Target(apps=frozenset(rng.sample(APPS, rng.randint(1, 3))))
        else:
            target = Target(actions=frozenset({"register"}))
        pick = rng.random()
        place = (
            LocationCondition()
            if pick < 0.4
            else LocationCondition(exclude="trusted")
            if pick < 0.7
            else LocationCondition(include="trusted")
            if pick < 0.85
            else LocationCondition(include=frozenset(rng.sample(locations, 2)))
        )
        pick = rng.random()
        grant = (
            Grant(block=True)
            if pick < 0.1
            else Grant(requirements=frozenset({"mfa"}))
            if pick < 0.7
            else Grant(requirements=frozenset({"phishing_resistant_mfa"}))
            if pick < 0.8
            else Grant(requirements=frozenset({"mfa", "managed_device"}), mode="any")
            if pick < 0.9
            else Grant()
        )
        policies.append(
            Policy(
                id=f"policy{i}",
                name=f"Policy {i}",
                state=rng.choices(("on", "report_only", "off"), (80, 15, 5))[0],
                users=users,
                target=target,
                locations=place,
                device=rng.choices(("any", "personal", "managed"), (70, 20, 10))[0],
                client_types=rng.choices(CLIENT_TYPE_CONDITIONS, (80, 10, 10))[0],
                grant=grant,
                session=SessionControls(sign_in_frequency=rng.choice((3600, 28800, 86400)))
                if rng.random() < 0.2
                else SessionControls(),
            )
        )
    return policies


# ip, username, groups, app, action, device, client type, satisfied
SignIn = tuple[str, str, frozenset[str], str | None, Action, Device, ClientType, frozenset[str]]


def random_sign_ins(
    rng: random.Random, ranges: list[tuple[str, Network]], count: int
) -> list[SignIn]:
    sign_ins: list[SignIn] = []
    for _ in range(count):
        if rng.random() < 0.7:  # most sign-ins come from a known network
            _, network = rng.choice(ranges)
            address = network[rng.randrange(network.num_addresses)]
            ip = str(address)
        else:
            ip = str(ipaddress.IPv4Address(rng.getrandbits(32)))
        sign_ins.append(
            (
                ip,
                rng.choice(USERS),
                frozenset(rng.sample(GROUPS, rng.randint(1, 4))),
                rng.choice([*APPS, None, "unknown.example.org"]),
                rng.choices(ACTIONS, (95, 5))[0],
                rng.choice(DEVICES),
                rng.choices(CLIENT_TYPES, (70, 25, 5))[0],
                rng.choice((frozenset(), frozenset({"mfa"}))),
            )
        )
    return sign_ins


def measure(
    index: RangeIndex, trusted: frozenset[str], policies: PolicySet, sign_ins: list[SignIn]
) -> list[int]:
    durations = []
    clock = time.perf_counter_ns
    for ip, username, groups, app, action, device, client_type, satisfied in sign_ins:
        start = clock()
        locations = index.lookup(ip)
        ctx = SignInContext(
            username=username,
            groups=groups,
            app=app,
            action=action,
            locations=locations,
            trusted=not locations.isdisjoint(trusted),
            device=device,
            client_type=client_type,
            satisfied=satisfied,
        )
        evaluate(ctx, policies)
        durations.append(clock() - start)
    return durations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as promised
    rng = random.Random(args.seed)

    print(f"python {sys.version.split()[0]}, {args.evaluations} evaluations per row")
    print(f"{'ranges':>8} {'build':>9} {'policies':>8} {'eval/s':>9} {'p50 µs':>7} {'p99 µs':>7}")
    for range_count in RANGE_COUNTS:
        ranges = random_ranges(rng, range_count)
        start = time.perf_counter()
        index = RangeIndex(ranges)
        build = time.perf_counter() - start
        locations = sorted({location for location, _ in ranges})
        trusted = frozenset(locations[: max(1, len(locations) // 10)])
        sign_ins = random_sign_ins(rng, ranges, args.evaluations)
        for policy_count in POLICY_COUNTS:
            policies = PolicySet(random_policies(rng, policy_count, locations))
            measure(index, trusted, policies, sign_ins[:1_000])  # warm up caches and memos
            gc.collect()
            durations = measure(index, trusted, policies, sign_ins)
            quantiles = statistics.quantiles(durations, n=100)
            print(
                f"{range_count:>8} {build * 1000:>7.0f}ms {policy_count:>8} "
                f"{1e9 / statistics.fmean(durations):>9.0f} "
                f"{quantiles[49] / 1000:>7.1f} {quantiles[98] / 1000:>7.1f}"
            )


if __name__ == "__main__":
    main()
