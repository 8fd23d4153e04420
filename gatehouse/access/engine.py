"""Conditional access policies and their evaluation: plain values in, a Decision with a trace of
every policy out. Pure and fast (no I/O, no framework); the sign-in flow calls it every time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from typing import Any, Literal, NamedTuple

State = Literal["on", "off", "report_only"]
Action = Literal["signin", "register"]
UserAction = Literal["register"]
Device = Literal["managed", "personal"]
DeviceCondition = Literal["any", "managed", "personal"]
ClientType = Literal["browser", "modern", "legacy"]
Requirement = Literal["mfa", "phishing_resistant_mfa", "managed_device", "temporary_access_pass"]
Mode = Literal["all", "any"]
PersistentBrowser = Literal["default", "always", "never"]
Outcome = Literal["allow", "block", "requirements"]
Result = Literal["applied", "not_applied", "off", "report_only_applied", "report_only_not_applied"]


@dataclass(frozen=True, slots=True)
class SignInContext:
    """What is known about one sign-in when policies are evaluated. ``satisfied`` holds the
    requirements already met (e.g. {"mfa"} after a second factor, {"temporary_access_pass",
    "mfa"} with a TAP); the engine adds "managed_device" itself when ``device`` is managed."""

    username: str
    groups: frozenset[str]
    app: str | None
    action: Action
    locations: frozenset[str]
    trusted: bool
    device: Device
    client_type: ClientType
    satisfied: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class UserCondition:
    """Who a policy is for; an exclusion beats any inclusion. The default includes nobody, so a
    half-written policy affects no one."""

    include_all: bool = False
    include_users: frozenset[str] = frozenset()
    include_groups: frozenset[str] = frozenset()
    exclude_users: frozenset[str] = frozenset()
    exclude_groups: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.include_all and (self.include_users or self.include_groups):
            raise ValueError("include_all already includes every user and group")


@dataclass(frozen=True, slots=True)
class Target:
    """What a policy is for: sign-ins to apps (all or listed, minus excluded), or user actions
    such as registering security info — never both. Sign-ins with no app (Gatehouse's own
    pages) are covered by ``apps_all`` only."""

    apps_all: bool = False
    apps: frozenset[str] = frozenset()
    exclude_apps: frozenset[str] = frozenset()
    actions: frozenset[UserAction] = frozenset()

    def __post_init__(self) -> None:
        if self.actions and (self.apps_all or self.apps or self.exclude_apps):
            raise ValueError("a policy targets either apps or user actions, not both")
        if self.apps_all and self.apps:
            raise ValueError("apps_all already includes every app")


ALL_APPS = Target(apps_all=True)


@dataclass(frozen=True, slots=True)
class LocationCondition:
    """Where a sign-in comes from: ``include`` is "any", "trusted" (any trusted location) or a
    set of location ids; ``exclude`` is "trusted" or a set of ids (empty: none). Exclusion
    beats inclusion."""

    include: Literal["any", "trusted"] | frozenset[str] = "any"
    exclude: Literal["trusted"] | frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Grant:
    """What an applying policy demands: a block, or requirements met in ``all`` or ``any``
    mode. No requirement and no block is valid: such a policy only sets session controls."""

    block: bool = False
    requirements: frozenset[Requirement] = frozenset()
    mode: Mode = "all"

    def __post_init__(self) -> None:
        if self.block and self.requirements:
            raise ValueError("a blocking policy has nothing left to require")


@dataclass(frozen=True, slots=True)
class SessionControls:
    """How long a sign-in lasts: re-authentication after ``sign_in_frequency`` seconds (None:
    the service default) and whether the browser session survives closing the browser."""

    sign_in_frequency: int | None = None
    persistent_browser: PersistentBrowser = "default"

    def __post_init__(self) -> None:
        if self.sign_in_frequency is not None and self.sign_in_frequency <= 0:
            raise ValueError("sign_in_frequency must be a positive number of seconds")


DEFAULT_SESSION = SessionControls()


@dataclass(frozen=True, slots=True)
class Policy:
    """One conditional access policy. It applies when every condition matches; ``message`` is
    shown to the user when it blocks or leaves a requirement unmet."""

    id: str
    name: str
    state: State = "off"
    users: UserCondition = UserCondition()
    target: Target = ALL_APPS
    locations: LocationCondition = LocationCondition()
    device: DeviceCondition = "any"
    client_types: frozenset[ClientType] = frozenset()  # empty: every client type
    grant: Grant = Grant()
    session: SessionControls = DEFAULT_SESSION
    message: str = ""


@dataclass(frozen=True, slots=True)
class RequirementGroup:
    """Requirements one policy still wants: all of them (mode "all") or one of them ("any")."""

    policy_id: str
    mode: Mode
    requirements: frozenset[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy_id": self.policy_id,
            "mode": self.mode,
            "requirements": sorted(self.requirements),
        }


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """What one policy did to one sign-in. ``unmet_condition`` is the first condition that did
    not match ("target", "users", "locations", "device", "client_type") and ``detail`` says how
    in a few words; ``grant_result`` is "block", "satisfied" or "unmet: ..." when it applied."""

    policy_id: str
    name: str
    state: State
    result: Result
    unmet_condition: str | None = None
    detail: str = ""
    grant_result: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy_id": self.policy_id,
            "name": self.name,
            "state": self.state,
            "result": self.result,
            "unmet_condition": self.unmet_condition,
            "detail": self.detail,
            "grant_result": self.grant_result,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one sign-in. ``message`` comes from the first blocking policy with one,
    else from the first policy with unmet requirements; ``session`` merges the session
    controls of the applied policies, strictest first."""

    outcome: Outcome
    blocked_by: tuple[str, ...]
    message: str
    unmet: tuple[RequirementGroup, ...]
    session: SessionControls
    trace: tuple[TraceEntry, ...]

    @property
    def allowed(self) -> bool:
        return self.outcome == "allow"

    def needs(self, requirement: str) -> bool:
        """Whether meeting ``requirement`` would satisfy (part of) some unmet group."""
        return any(requirement in group.requirements for group in self.unmet)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data, as the sign-in log stores it."""
        return {
            "outcome": self.outcome,
            "blocked_by": list(self.blocked_by),
            "message": self.message,
            "unmet": [group.to_dict() for group in self.unmet],
            "session": {
                "sign_in_frequency": self.session.sign_in_frequency,
                "persistent_browser": self.session.persistent_browser,
            },
            "trace": [entry.to_dict() for entry in self.trace],
        }


class _Compiled:
    """One policy prepared for evaluation: its grant in plain fields and every trace entry it
    can produce built up front, so that an evaluation mostly copies references."""

    __slots__ = (
        "_unmet",
        "block",
        "enforced",
        "entry_block",
        "entry_client",
        "entry_device",
        "entry_excluded_group",
        "entry_excluded_location",
        "entry_excluded_user",
        "entry_not_included",
        "entry_outside",
        "entry_satisfied",
        "message",
        "mode_all",
        "policy",
        "position",
        "requirements",
        "session",
    )

    def __init__(self, position: int, policy: Policy) -> None:
        self.position = position
        self.policy = policy
        self.enforced = policy.state == "on"
        self.block = policy.grant.block
        self.requirements: frozenset[str] = frozenset(policy.grant.requirements)
        self.mode_all = policy.grant.mode == "all"
        self.message = policy.message
        self.session = None if policy.session == DEFAULT_SESSION else policy.session
        self._unmet: dict[frozenset[str], tuple[TraceEntry, RequirementGroup]] = {}

        miss = self.not_applied
        self.entry_excluded_user = miss("users", "user is excluded")
        self.entry_excluded_group = miss("users", "user is in an excluded group")
        self.entry_not_included = miss("users", "user is not included")
        include = policy.locations.include
        self.entry_outside = miss(
            "locations",
            "sign-in is not from a trusted location"
            if include == "trusted"
            else "sign-in is not from an included location",
        )
        self.entry_excluded_location = miss(
            "locations",
            "trusted locations are excluded"
            if policy.locations.exclude == "trusted"
            else "sign-in is from an excluded location",
        )
        self.entry_device = miss("device", f"policy is for {policy.device} devices")
        self.entry_client = miss(
            "client_type", f"policy is for {', '.join(sorted(policy.client_types))} clients"
        )
        self.entry_block = self.applied("block")
        self.entry_satisfied = self.applied("satisfied")

    def not_applied(self, condition: str, detail: str) -> TraceEntry:
        policy = self.policy
        if policy.state == "off":
            return TraceEntry(policy.id, policy.name, "off", "off", None, "policy is off")
        result: Result = "not_applied" if self.enforced else "report_only_not_applied"
        return TraceEntry(policy.id, policy.name, policy.state, result, condition, detail)

    def applied(self, grant_result: str) -> TraceEntry:
        result: Result = "applied" if self.enforced else "report_only_applied"
        return TraceEntry(
            self.policy.id, self.policy.name, self.policy.state, result, None, "", grant_result
        )

    def unmet(self, satisfied: frozenset[str]) -> tuple[TraceEntry, RequirementGroup] | None:
        """The trace entry and group for requirements this sign-in has not met, if any."""
        if self.mode_all:
            missing = self.requirements - satisfied
            if not missing:
                return None
        elif self.requirements.isdisjoint(satisfied):
            missing = self.requirements
        else:
            return None
        # Memoised: an "all" policy can only miss a subset of its few requirements.
        known = self._unmet.get(missing)
        if known is None:
            names = ", ".join(sorted(missing))
            either = not self.mode_all and len(missing) > 1
            known = self._unmet.setdefault(
                missing,
                (
                    self.applied(f"unmet: one of {names}" if either else f"unmet: {names}"),
                    RequirementGroup(self.policy.id, self.policy.grant.mode, missing),
                ),
            )
        return known


class _Candidate(NamedTuple):
    """A targeted policy's remaining conditions, unpacked in one step per policy. Inclusion of
    the user is settled before a candidate is looked at (see _Route)."""

    position: int
    compiled: _Compiled
    exclude_users: frozenset[str]
    exclude_groups: frozenset[str]
    include_trusted: bool
    include_locations: frozenset[str] | None  # None: any location (or any trusted one)
    exclude_trusted: bool
    exclude_locations: frozenset[str]
    device: str | None
    client_types: frozenset[str]


class _Route(NamedTuple):
    """For one app or user action: the trace as it stands before looking at the sign-in (off
    and untargeted policies are final, and so is "user not included" until the user turns out
    to be included) and the targeted policies, filed by whom they include. Most policies name
    groups, so a sign-in looks only at the policies for everyone and those for its groups."""

    template: tuple[TraceEntry, ...]
    everyone: tuple[_Candidate, ...]
    by_group: dict[str, tuple[_Candidate, ...]]
    by_user: dict[str, tuple[_Candidate, ...]]


class PolicySet:
    """Policies prepared for evaluation; build one when the policies change and share it."""

    __slots__ = ("_actions", "_apps", "_unnamed_app", "policies")

    def __init__(self, policies: Iterable[Policy]) -> None:
        self.policies = tuple(policies)
        seen: set[str] = set()
        for policy in self.policies:
            if policy.id in seen:
                raise ValueError(f"two policies have the id {policy.id!r}")
            seen.add(policy.id)
        compiled = [_Compiled(i, policy) for i, policy in enumerate(self.policies)]
        named_apps = {
            app
            for policy in self.policies
            for app in policy.target.apps | policy.target.exclude_apps
        }
        self._apps = {app: _route(compiled, "signin", app) for app in named_apps}
        # An app that no policy names is covered by "all apps" only, just like a sign-in to
        # no app at all, so one route serves them all.
        self._unnamed_app = _route(compiled, "signin", None)
        self._actions = {"register": _route(compiled, "register", None)}


def _route(compiled: list[_Compiled], action: Action, app: str | None) -> _Route:
    template: list[TraceEntry] = []
    everyone: list[_Candidate] = []
    by_group: dict[str, list[_Candidate]] = {}
    by_user: dict[str, list[_Candidate]] = {}
    for c in compiled:
        policy = c.policy
        miss = _target_miss(policy.target, action, app)
        if policy.state == "off" or miss is not None:
            template.append(c.not_applied("target", miss or ""))
            continue
        template.append(c.entry_not_included)
        users, locations = policy.users, policy.locations
        candidate = _Candidate(
            position=c.position,
            compiled=c,
            exclude_users=users.exclude_users,
            exclude_groups=users.exclude_groups,
            include_trusted=locations.include == "trusted",
            include_locations=None if isinstance(locations.include, str) else locations.include,
            exclude_trusted=locations.exclude == "trusted",
            exclude_locations=(
                frozenset() if isinstance(locations.exclude, str) else locations.exclude
            ),
            device=None if policy.device == "any" else policy.device,
            client_types=frozenset(policy.client_types),
        )
        if users.include_all:
            everyone.append(candidate)
            continue
        for group in users.include_groups:
            by_group.setdefault(group, []).append(candidate)
        for username in users.include_users:
            by_user.setdefault(username, []).append(candidate)
    return _Route(
        tuple(template),
        tuple(everyone),
        {group: tuple(listed) for group, listed in by_group.items()},
        {username: tuple(listed) for username, listed in by_user.items()},
    )


def _target_miss(target: Target, action: Action, app: str | None) -> str | None:
    """Why ``target`` does not cover this sign-in, or None when it does."""
    if target.actions:
        if action in target.actions:
            return None
        return f"policy is for user actions ({', '.join(sorted(target.actions))}), not app sign-ins"
    if action != "signin":
        return f"policy is for app sign-ins, not the {action} action"
    if app is not None and app in target.exclude_apps:
        return "app is excluded"
    if target.apps_all or (app is not None and app in target.apps):
        return None
    return "app is not targeted"


_MANAGED = frozenset({"managed_device"})
_BROWSER_STRICTNESS = {"default": 0, "always": 1, "never": 2}


def evaluate(ctx: SignInContext, policies: PolicySet) -> Decision:
    """Decide one sign-in: every "on" policy whose conditions all match applies; any applying
    block blocks; otherwise each applying policy's requirements must be met. Report-only
    policies are judged the same way and recorded in the trace, never enforced."""
    if ctx.action == "signin":
        unnamed, app = policies._unnamed_app, ctx.app
        route = unnamed if app is None else policies._apps.get(app, unnamed)
    else:
        route = policies._actions[ctx.action]
    username, groups, locations, trusted = ctx.username, ctx.groups, ctx.locations, ctx.trusted
    device, client_type = ctx.device, ctx.client_type
    satisfied = ctx.satisfied | _MANAGED if device == "managed" else ctx.satisfied

    candidates: Iterable[_Candidate] = route.everyone
    named = [found for group in groups if (found := route.by_group.get(group))]
    if (found := route.by_user.get(username)) is not None:
        named.append(found)
    if named:
        # A policy naming several of the user's groups is filed under each; count it once.
        once = {candidate.position: candidate for found in named for candidate in found}
        candidates = chain(candidates, once.values())

    trace = list(route.template)
    blocking: list[_Compiled] = []
    unmet: list[tuple[_Compiled, RequirementGroup]] = []
    sessions: list[SessionControls] = []
    # Each check below is the cheap form of one condition, in the order the trace reports
    # them; the first that fails names the trace entry.
    for (
        position,
        c,
        exclude_users,
        exclude_groups,
        include_trusted,
        include_locations,
        exclude_trusted,
        exclude_locations,
        want_device,
        client_types,
    ) in candidates:
        if exclude_users and username in exclude_users:
            trace[position] = c.entry_excluded_user
        elif exclude_groups and not exclude_groups.isdisjoint(groups):
            trace[position] = c.entry_excluded_group
        elif (exclude_trusted and trusted) or (
            exclude_locations and not exclude_locations.isdisjoint(locations)
        ):
            trace[position] = c.entry_excluded_location
        elif (include_trusted and not trusted) or (
            include_locations is not None and include_locations.isdisjoint(locations)
        ):
            trace[position] = c.entry_outside
        elif want_device is not None and want_device != device:
            trace[position] = c.entry_device
        elif client_types and client_type not in client_types:
            trace[position] = c.entry_client
        elif c.block:
            trace[position] = c.entry_block
            if c.enforced:
                blocking.append(c)
        else:
            missed = c.unmet(satisfied) if c.requirements else None
            if missed is None:
                trace[position] = c.entry_satisfied
            else:
                trace[position] = missed[0]
                if c.enforced:
                    unmet.append((c, missed[1]))
            if c.enforced and c.session is not None:
                sessions.append(c.session)

    # Candidates came grouped by whom they include; results go out in policy order.
    if len(blocking) > 1:
        blocking.sort(key=_policy_order)
    if len(unmet) > 1:
        unmet.sort(key=lambda pair: pair[0].position)
    if blocking:
        outcome: Outcome = "block"
        deciding = blocking
    else:
        outcome = "requirements" if unmet else "allow"
        deciding = [c for c, _ in unmet]
    return Decision(
        outcome=outcome,
        blocked_by=tuple(c.policy.id for c in blocking),
        message=next((c.message for c in deciding if c.message), ""),
        unmet=() if blocking else tuple(group for _, group in unmet),
        session=_strictest(sessions),
        trace=tuple(trace),
    )


def _policy_order(c: _Compiled) -> int:
    return c.position


def _strictest(sessions: list[SessionControls]) -> SessionControls:
    if not sessions:
        return DEFAULT_SESSION
    if len(sessions) == 1:
        return sessions[0]
    frequencies = [s.sign_in_frequency for s in sessions if s.sign_in_frequency is not None]
    return SessionControls(
        sign_in_frequency=min(frequencies) if frequencies else None,
        persistent_browser=max(
            (s.persistent_browser for s in sessions), key=_BROWSER_STRICTNESS.__getitem__
        ),
    )
