"""The `gatehouse` command (DESIGN §5.1). Each subcommand is a thin wrapper over the domain
modules; bad input exits 2 with a one-line reason."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from gatehouse import config as gatehouse_config
from gatehouse import metrics_folder

EXIT_BAD_INPUT = 2


class CommandError(Exception):
    """A one-line reason to refuse the command."""

    exit_code = EXIT_BAD_INPUT


class Findings(CommandError):
    """The command ran and found something wrong (`proxy-check`)."""

    exit_code = 1


def _setup(signing_key: bool = False) -> gatehouse_config.Config:
    """Validate the configuration, then start Django on it. `signing_key`: first create the
    OIDC signing key file if there is none (the commands that prepare a server do)."""
    config = gatehouse_config.load()
    if signing_key:
        from gatehouse.providers.oidc import keys

        path = config.path("oidc.signing_key_file")
        if keys.ensure(path):
            print(f"created the OIDC signing key {path} (mode 0600)", file=sys.stderr)
    gatehouse_config.check(config)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gatehouse.settings")
    import django

    django.setup()
    return config


def _migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


# --- commands ------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> None:
    folder = Path(args.dir).resolve()
    config_path = folder / "gatehouse.toml"
    key_path = folder / "secret.key"
    for path in (config_path, key_path):
        if path.exists():
            raise CommandError(f"{path} already exists; not overwriting it")
    folder.mkdir(parents=True, exist_ok=True)
    write_secret_key(key_path)
    config_path.write_text(gatehouse_config.render_commented())
    print(f"wrote {config_path}")
    print(f"wrote {key_path} (mode 0600)")
    print(f"next: edit it, then `gatehouse --config {config_path} check`")


def write_secret_key(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")


def cmd_check(args: argparse.Namespace) -> None:
    config = gatehouse_config.load()
    gatehouse_config.check(config)
    print(f"configuration OK ({config.source or 'defaults'})")
    for source in config["directory.ldap"]:
        servers = ", ".join(source.urls)
        print(f"directory source {source.name}: {source.kind} at {servers}")
    if config["directory.ldap"]:
        print("(`gatehouse directory test` connects to them)")


def cmd_migrate(args: argparse.Namespace) -> None:
    _setup(signing_key=True)
    _migrate()
    print("database up to date")


def cmd_serve(args: argparse.Namespace) -> None:
    metrics_folder.prepare(gatehouse_config.load()["metrics.enabled"])  # before the workers
    _setup(signing_key=True)
    _migrate()
    serve(args.host, args.port, args.workers)


# Granian serves no more connections per worker than its backpressure (by default 1024 shared
# by all workers), idle keep-alive ones included, and leaves the next unanswered. A sign-in page
# waiting for a phone holds one for up to 30 s: room for thousands of them.
CONNECTIONS_PER_WORKER = 4096


def serve(host: str, port: int, workers: int) -> None:
    from django.db import connections
    from granian import Granian
    from granian.constants import Interfaces, Loops

    # The workers are forked from this process: nothing it opened (a connection, a pool and
    # the threads that fill it) may be inherited by them half-alive.
    for connection in connections.all(initialized_only=True):
        connection.close()
        if hasattr(connection, "close_pool"):
            connection.close_pool()
    Granian(
        "gatehouse.asgi:application",
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGINL,
        # uvloop, not asyncio's own loop: forward auth's allowed path went from 24,600 to
        # 36,600 requests/s on one worker (bench/forward_auth.py).
        loop=Loops.uvloop,
        log_access=False,
        backlog=CONNECTIONS_PER_WORKER,
        backpressure=CONNECTIONS_PER_WORKER,
    ).serve()


def cmd_demo(args: argparse.Namespace) -> None:
    from gatehouse.demo import run_demo

    run_demo(host=args.host, port=args.port, folder=args.dir)


def cmd_createadmin(args: argparse.Namespace) -> None:
    _setup()
    _migrate()
    from gatehouse.directory.admins import create_admin

    password = args.password or os.environ.get("GATEHOUSE_ADMIN_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            raise CommandError("no password: pass --password or set GATEHOUSE_ADMIN_PASSWORD")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("the two passwords differ")
    try:
        user = create_admin(args.username, args.email, password)
    except ValueError as exc:
        raise CommandError(f"password refused: {exc}") from None
    print(f"admin '{user.username}' ready")


def cmd_users_import(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.csvimport import CsvImportError
    from gatehouse.directory.importer import import_csv

    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"{args.file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{args.file}: not UTF-8 text") from None
    try:
        result = import_csv(text)
    except CsvImportError as exc:
        raise CommandError(f"{args.file}: nothing imported: {exc}") from None
    print(f"imported {args.file}: {result.created} created, {result.updated} updated")


def cmd_signins_tail(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.signin.report import format_event, recent

    for event in reversed(recent(args.n)):
        print(format_event(event))


KEY_FILES_APART = (
    "not in it, and needed with it: secrets.key_file ({key}) to read the second factors' "
    "secrets, and oidc.signing_key_file and authenticator.vapid_key_file; keep copies of them "
    "apart from the database's backups"
)


def cmd_backup(args: argparse.Namespace) -> None:
    config = _setup()
    from gatehouse import backup

    try:
        database = backup.backup(Path(args.file))
    except backup.BackupError as exc:
        raise CommandError(str(exc)) from None
    print(f"backed {database} up to {args.file} (mode 0600)")
    print(KEY_FILES_APART.format(key=config.path("secrets.key_file")), file=sys.stderr)


def cmd_restore(args: argparse.Namespace) -> None:
    config = _setup()
    from gatehouse import backup

    if not args.yes:
        raise CommandError(
            "restoring replaces every row of the database: stop every Gatehouse process "
            "(serve and jobs), then run again with --yes"
        )
    try:
        database = backup.restore(Path(args.file))
    except backup.BackupError as exc:
        raise CommandError(str(exc)) from None
    print(
        f"restored {database} from {args.file}; `gatehouse migrate` (or serve) brings it up "
        "to this version"
    )
    if not backup.secrets_readable():
        raise CommandError(
            f"restored, but secrets.key_file ({config.path('secrets.key_file')}) does not "
            "decrypt its second factors: put back the key file from the time of the backup"
        )


def cmd_signins_export(args: argparse.Namespace) -> None:
    if args.until is not None and args.until <= args.since:
        raise CommandError("--until must be later than --since")
    _setup()
    import json

    from gatehouse.signin import export

    out = sys.stdout
    try:
        for event in export.between(args.since, args.until):
            out.write(json.dumps(export.record(event), separators=(",", ":")) + "\n")
        out.flush()
    except BrokenPipeError:
        # The reader stopped (`| head`): not an error; nothing more to write anywhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _moment(text: str):
    """--since/--until: an ISO date or time (UTC unless it says otherwise), or a duration
    before now such as 15m, 24h or 7d."""
    from datetime import UTC, datetime, timedelta

    try:
        return datetime.now(UTC) - timedelta(seconds=gatehouse_config.parse_duration(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is neither a date or time (2030-01-31, 2030-01-31T08:00:00+00:00) nor a "
            "duration before now (15m, 24h, 7d)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _named(model, name: str, what: str):
    """The row of `model` called `name`, or a one-line refusal."""
    row = model.objects.filter(name=name).first()
    if row is None:
        raise CommandError(f"no {what} named '{name}'")
    return row


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not UTF-8 text") from None


def cmd_devices_add(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.access import devices

    try:
        device = devices.save(
            _actor(), args.fingerprint, args.name, args.owner, compliant=not args.noncompliant
        )
    except devices.DeviceError as exc:
        raise CommandError(str(exc)) from None
    print(f"registered {device.name} ({device.fingerprint})")


def cmd_devices_list(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.access.models import ManagedDevice

    for device in ManagedDevice.objects.select_related("owner"):
        owner = device.owner.username if device.owner else "-"
        state = "compliant" if device.compliant else "NONCOMPLIANT"
        print(f"{device.fingerprint}  {state:<12}  owner={owner:<12}  {device.name}")


def cmd_devices_remove(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.access import devices

    try:
        device = devices.by_fingerprint(args.fingerprint)
    except devices.DeviceError as exc:
        raise CommandError(str(exc)) from None
    devices.delete(_actor(), device)
    print(f"removed {device.name}")


def cmd_devices_import(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.access import devices
    from gatehouse.csvimport import CsvImportError

    try:
        created, updated = devices.import_csv(_actor(), _read_text(args.file))
    except (CsvImportError, devices.DeviceError) as exc:
        raise CommandError(f"{args.file}: nothing imported: {exc}") from None
    print(f"imported {args.file}: {created} created, {updated} updated")


def cmd_locations_list(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.access.models import NamedLocation

    for location in NamedLocation.objects.all():
        trust = "trusted" if location.trusted else "untrusted"
        print(f"{location.name}  ({trust})  {', '.join(location.ranges)}")


def cmd_locations_set(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.access import locations
    from gatehouse.access.models import NamedLocation

    existing = NamedLocation.objects.filter(name=args.name.strip()).first()
    try:
        locations.save(
            _actor(), args.name, args.ranges, args.trusted, existing.id if existing else None
        )
    except locations.LocationError as exc:
        raise CommandError(str(exc)) from None
    print(f"{'updated' if existing else 'added'} location {args.name}")


def cmd_locations_remove(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.access import locations
    from gatehouse.access.models import NamedLocation

    locations.delete(_actor(), _named(NamedLocation, args.name, "location"))
    print(f"removed location {args.name}")


def _policy_format(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in {".yaml", ".yml"}:
        return "yaml"
    if suffix == ".toml":
        return "toml"
    raise CommandError(f"{path}: name the file .yaml, .yml or .toml to choose its format")


def cmd_policies_export(args: argparse.Namespace) -> None:
    fmt = _policy_format(args.file)
    _setup()
    from gatehouse.access import policies

    Path(args.file).write_text(policies.export(fmt))
    print(f"exported {policies.count()} policies to {args.file}")


def cmd_policies_import(args: argparse.Namespace) -> None:
    fmt = _policy_format(args.file)
    text = _read_text(args.file)
    _setup()
    from gatehouse.access import policies, policyfile

    try:
        loaded = policyfile.load(text, fmt)
    except policyfile.PolicyFileError as exc:
        raise CommandError(f"{args.file}: nothing imported: {exc}") from None
    policies.replace_all(loaded, _actor())
    print(f"imported {len(loaded)} policies from {args.file}")


def cmd_whatif(args: argparse.Namespace) -> None:
    _setup()
    import json

    from gatehouse.access import whatif

    try:
        assessment = whatif.what_if(
            args.user, args.ip, args.device, args.app, args.action, args.client_type
        )
    except whatif.WhatIfError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print(json.dumps(whatif.as_dict(assessment), indent=2))
    else:
        print(whatif.as_text(assessment))


def cmd_tokens_create(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.console import tokens

    try:
        issued = tokens.issue(args.user, args.name, _actor(), args.lifetime)
    except tokens.TokenError as exc:
        raise CommandError(str(exc)) from None
    record = issued.record
    until = f"{record.expires_at:%Y-%m-%d %H:%M} UTC"
    print(f"admin API token {record.id} '{record.name}' for {record.user.username}, until {until}")
    print("(shown once; send it as 'Authorization: Bearer <token>'):")
    print(issued.token)


def cmd_tokens_list(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.console import tokens

    for record in tokens.listed(include_ended=args.all):
        state = tokens.state(record)
        until = f"{state} until {record.expires_at:%Y-%m-%d %H:%M}"
        if state == tokens.REVOKED:
            until = f"revoked {record.revoked_at:%Y-%m-%d %H:%M}"
        used = "never used"
        if record.last_used:
            used = f"last used {record.last_used:%Y-%m-%d %H:%M} from {record.last_used_ip or '?'}"
        print(f"{record.id:>5}  {record.user.username:<12}  {until:<30}  {used:<48}  {record.name}")


def cmd_tokens_revoke(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.console import tokens

    try:
        record = tokens.revoke(args.id, _actor())
    except tokens.TokenError as exc:
        raise CommandError(str(exc)) from None
    print(f"revoked token {record.id} '{record.name}' of {record.user.username}")


def _user(username: str):
    from gatehouse.directory.importer import normalise_username
    from gatehouse.directory.models import User

    user = User.objects.filter(username=normalise_username(username)).first()
    if user is None:
        raise CommandError(f"no user '{username}'")
    return user


def _lifetime(text: str) -> int:
    try:
        return gatehouse_config.parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}': {exc}") from None


def cmd_tap_issue(args: argparse.Namespace) -> None:
    _setup()
    from datetime import timedelta

    from gatehouse.methods import tap

    user = _user(args.user)
    try:
        issued = tap.issue(
            user, _actor(), lifetime=timedelta(seconds=args.lifetime), one_time=args.one_time
        )
    except tap.PassError as exc:
        raise CommandError(str(exc)) from None
    use = "once" if issued.one_time else "any number of times"
    until = f"{issued.expires_at:%Y-%m-%d %H:%M} UTC"
    print(f"Temporary Access Pass for {user.username}, valid until {until}, {use}:")
    print(issued.code)


def cmd_tap_revoke(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.methods import tap

    user = _user(args.user)
    if not tap.revoke(user, _actor()):
        raise CommandError(f"'{user.username}' has no Temporary Access Pass")
    print(f"revoked the Temporary Access Pass of {user.username}")


def cmd_users_unlock(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.audit import trail
    from gatehouse.signin.throttle_store import throttle

    user = _user(args.user)
    throttle().unlock(user.username)
    trail.record(_actor(), "user.unlock", f"user:{user.username}")
    print(f"unlocked {user.username}")


def cmd_users_signout(args: argparse.Namespace) -> None:
    if bool(args.user) == args.everyone:
        raise CommandError("name one USER, or --everyone")
    _setup()
    from gatehouse.signin import sessions

    user = _user(args.user) if args.user else None
    ended = sessions.end_by_admin(_actor(), user)
    print(f"ended {ended} sessions of {user.username if user else 'every user'}")


def cmd_users_unblock(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.authenticator import fraud

    user = _user(args.user)
    if not fraud.lift(user, _actor()):
        raise CommandError(f"'{user.username}' is not blocked")
    print(f"lifted the block on {user.username}")


def cmd_secrets_rotate(args: argparse.Namespace) -> None:
    config = _setup()
    from gatehouse.keyrotation import rotate

    count = rotate(config.path("secrets.key_file"), _actor())
    print(f"new secret key in {config.path('secrets.key_file')}; {count} secrets re-encrypted")
    print("restart every Gatehouse instance now so that all of them use it")


def cmd_apps_add(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.access import protected_apps
    from gatehouse.access.models import OIDC

    try:
        app = protected_apps.save(
            _actor(),
            args.name,
            args.kind,
            hosts=args.host or [],
            redirect_uris=args.redirect_uri or [],
            first_party=not args.third_party,
            confidential=args.confidential,
            native=args.native,
        )
    except protected_apps.AppError as exc:
        raise CommandError(str(exc)) from None
    print(f"added {app.kind} app {app.name}")
    if app.kind == OIDC:
        from django.conf import settings

        kind = "confidential" if app.confidential else "public, PKCE S256"
        kind += ", native: any loopback port" if app.native else ""
        print(f"client_id {app.name} ({kind}); issuer {settings.PUBLIC_URL} (docs/oidc.md)")
    if app.confidential:
        _print_client_secret(app)


def _print_client_secret(app) -> None:
    from gatehouse.providers.oidc import clients

    print(f"client secret of {app.name} (shown once; `gatehouse apps secret` makes a new one):")
    print(clients.new_secret(app))


def cmd_apps_secret(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.access.models import ProtectedApp
    from gatehouse.audit import trail

    app = _named(ProtectedApp, args.name, "app")
    if not app.confidential:
        raise CommandError(f"'{app.name}' is not a confidential OIDC client; it has no secret")
    trail.record(_actor(), "app.secret", f"app:{app.pk}")
    _print_client_secret(app)


def cmd_oidc_rotate_key(args: argparse.Namespace) -> None:
    config = _setup()
    from gatehouse.audit import trail
    from gatehouse.providers.oidc import keys

    path = config.path("oidc.signing_key_file")
    new, retired = keys.rotate(path)
    trail.record(_actor(), "oidc.rotate_key", "oidc-signing-key", kid=new, retired=retired)
    kept = f"the previous key {retired} is still published" if retired else "no key before it"
    print(f"new OIDC signing key {new} in {path}; {kept}")
    print("restart every Gatehouse instance now so that all of them sign with it")


def cmd_apps_list(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.access.models import ProtectedApp

    for app in ProtectedApp.objects.all():
        where = ", ".join(app.hosts or app.redirect_uris)
        print(f"{app.name:<24} {app.kind:<13} {where}")


def cmd_apps_remove(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.access import protected_apps
    from gatehouse.access.models import ProtectedApp

    protected_apps.delete(_actor(), _named(ProtectedApp, args.name, "app"))
    print(f"removed app {args.name}")


def cmd_proxy_check(args: argparse.Namespace) -> None:
    from gatehouse import proxycheck

    connection = proxycheck.Connection(
        resolve=dict(args.resolve or []), cafile=args.cacert, source=args.source
    )
    forged = 0
    for url in args.urls:
        try:
            report = proxycheck.check(url, connection)
        except proxycheck.ProxyCheckError as exc:
            raise CommandError(str(exc)) from None
        print("\n".join(report.lines()))
        forged += len(report.failed)
    if forged:
        raise Findings(f"{forged} forged headers reached Gatehouse unchanged (docs/proxies/)")
    print("every forged header was replaced or removed on the way")


def _resolve(text: str) -> tuple[str, str]:
    import ipaddress

    host, _, rest = text.partition(":")
    port, _, address = rest.partition(":")
    try:
        ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not HOST:PORT:ADDRESS") from None
    return f"{host.lower()}:{_port(port)}", address.strip("[]")


def cmd_audit_verify(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.audit import trail

    broken = trail.verify()
    if broken is not None:
        raise CommandError(f"the audit trail is broken at event {broken}")
    print("audit trail intact")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


def cmd_campaign(args: argparse.Namespace) -> None:
    options = {
        name: getattr(args, name)
        for name in ("snooze_days", "snoozes", "groups", "exclude")
        if getattr(args, name) is not None
    }
    if args.end and (args.deadline or options):
        raise CommandError("--end takes no other options")
    if options and not args.deadline:
        raise CommandError("--snooze-days, --snoozes, --groups and --exclude need --deadline")
    _setup()
    from gatehouse.enrollment import campaign as campaigns

    if args.end:
        if campaigns.end_campaign(_actor()) is None:
            raise CommandError("no registration campaign is running")
        print("ended the registration campaign")
        return
    if args.deadline is None:
        running = campaigns.current()
        print(campaigns.describe(running) if running else "no registration campaign is running")
        return
    try:
        running = campaigns.start_campaign(args.deadline, actor=_actor(), **options)
    except campaigns.CampaignError as exc:
        raise CommandError(str(exc)) from None
    print(campaigns.describe(running))


def cmd_jobs_run(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse import jobs

    unknown = sorted(set(args.jobs) - set(jobs.names()))
    if unknown:
        raise CommandError(f"no job {', '.join(unknown)}; jobs: {', '.join(jobs.names())}")
    results = jobs.run(args.jobs)
    for result in results:
        print(f"{result.name}: {result.summary}")
    failed = [result.name for result in results if not result.ok]
    if failed:
        raise CommandError(f"not all done: {', '.join(failed)} (see above); run again later")


def cmd_directory_test(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.directory.sources.base import DirectoryError

    chosen = _sources(args.source)
    failed = []
    for name, source in chosen.items():
        print(f"[{name}] {source.settings.kind}, {', '.join(source.settings.urls)}")
        problem = source.probe()
        if problem is not None:
            print(f"  FAILED: {problem}")
            failed.append(name)
            continue
        print(f"  connected to {source.connections.last_url} and bound as the service account")
        try:
            sample = source.sample(args.user)
        except DirectoryError as exc:
            print(f"  FAILED to search users: {exc}")
            failed.append(name)
            continue
        if sample is None:
            who = f"'{args.user}'" if args.user else "at all"
            print(f"  FAILED: no user {who} under {source.settings.user_base}")
            failed.append(name)
            continue
        print(f"  sample user {sample.user.dn}")
        shown = {**dataclasses.asdict(sample.user), "groups": ", ".join(sample.groups)}
        shown["disabled"] = "yes" if shown["disabled"] else "no"
        for field, value in shown.items():
            if field != "dn":
                print(f"    {field:<13} {value or '-'}")
    if failed:
        raise CommandError(f"not every source works: {', '.join(failed)} (see above)")


def cmd_directory_sync(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.directory import sync

    failed = []
    for name in _sources(args.source):
        try:
            result = sync.run(
                name, full=args.full, dry_run=args.dry_run, force=args.force, actor=_actor()
            )
        except sync.SyncError as exc:
            print(str(exc))
            failed.append(name)
            continue
        if args.dry_run or args.verbose:
            for line in result.changes:
                print(f"  {line}")
        for line in result.skipped:
            print(f"  skipped {line}")
        print(result.summary())
        if not result.ok:
            failed.append(name)
    if failed:
        raise CommandError(f"not synced: {', '.join(failed)} (see above)")


def _sources(name: str | None) -> dict:
    from gatehouse.directory import sources

    configured = sources.configured()
    if not configured:
        raise CommandError(
            "no directory sources: add a [[directory.ldap]] table (docs/directory.md)"
        )
    if name is None:
        return configured
    if name not in configured:
        raise CommandError(f"no directory source '{name}'; sources: {', '.join(configured)}")
    return {name: configured[name]}


def cmd_jobs_worker(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse import jobs

    print(f"running jobs every {args.every} minutes (see the log); Ctrl-C stops", flush=True)
    jobs.worker(args.every)


def cmd_report_registration(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.enrollment import report

    rows = report.registration_report()
    if args.csv:
        report.write_csv(rows, sys.stdout)
    else:
        print(report.as_text(rows))


# --- wiring --------------------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be 1 or more")
    return value


def _port(text: str) -> int:
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not a TCP port (1-65535)")
    return value


def _needs_action(args: argparse.Namespace) -> None:
    raise CommandError("say which action (see --help)")


def _actions(command: argparse.ArgumentParser) -> argparse._SubParsersAction:
    actions = command.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    return actions


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as every command promises
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gatehouse",
        description="Gatehouse: multi-factor sign-in and conditional access.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="gatehouse.toml to use (default: $GATEHOUSE_CONFIG, else built-in defaults)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(
        name: str, handler: Callable[[argparse.Namespace], None], help: str
    ) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help, description=help)
        command.set_defaults(handler=handler)
        return command

    init = add("init", cmd_init, "Write a commented gatehouse.toml and a secret key file.")
    init.add_argument("--dir", default=".", help="folder to write them in (default: .)")
    add("check", cmd_check, "Validate the configuration and say what is wrong.")
    add("migrate", cmd_migrate, "Create or upgrade the database tables.")

    serve_cmd = add("serve", cmd_serve, "Migrate the database, then serve HTTP (ASGI, granian).")
    serve_cmd.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve_cmd.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000)")
    serve_cmd.add_argument("--workers", type=_positive, default=1, help="worker processes")

    demo = add("demo", cmd_demo, "Serve a throwaway demo organisation on SQLite.")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on")
    demo.add_argument(
        "--port",
        type=_port,
        default=int(os.environ.get("PORT", 8000)),
        help="TCP port ($PORT, 8000)",
    )
    demo.add_argument("--dir", help="data folder (default: a new temporary folder)")

    admin = add("createadmin", cmd_createadmin, "Create (or reset) an administrator account.")
    admin.add_argument("username")
    admin.add_argument("--email", default="")
    admin.add_argument("--password", help="else $GATEHOUSE_ADMIN_PASSWORD, else asked for")

    users = add("users", _needs_action, "Manage the user directory.")
    users_sub = _actions(users)
    users_import = users_sub.add_parser(
        "import",
        help="Create or update users from CSV",
        description="Create or update users from a CSV file with the header "
        "username,email,display_name,department,groups,password (groups ';'-separated, password "
        "optional: 8 or more characters, not a common one nor close to the person's names nor "
        "containing the organisation's words, docs/security.md). All rows are checked first; a "
        "bad row is reported with its line number and nothing is imported.",
    )
    users_import.add_argument("file", metavar="FILE.csv")
    users_import.set_defaults(handler=cmd_users_import)
    unlock = users_sub.add_parser(
        "unlock", help="Lift a user's password and second-factor lockouts"
    )
    unlock.add_argument("user")
    unlock.set_defaults(handler=cmd_users_unlock)
    signout = users_sub.add_parser(
        "signout",
        help="End every session of USER (or --everyone), with the apps' tokens; audited",
    )
    signout.add_argument("user", nargs="?")
    signout.add_argument("--everyone", action="store_true", help="every user's sessions")
    signout.set_defaults(handler=cmd_users_signout)
    unblock = users_sub.add_parser(
        "unblock", help="Lift the block after USER reported a push as not theirs"
    )
    unblock.add_argument("user")
    unblock.set_defaults(handler=cmd_users_unblock)

    tap_cmd = add("tap", _needs_action, "Temporary Access Passes (helpdesk).")
    tap_sub = _actions(tap_cmd)
    tap_issue = tap_sub.add_parser(
        "issue",
        help="Issue a pass to USER (replacing any other); the pass alone is on the last line",
    )
    tap_issue.add_argument("user")
    tap_issue.add_argument(
        "--lifetime", type=_lifetime, default=3600, help="10m to 30d, e.g. 30m, 1h, 2d (default 1h)"
    )
    tap_issue.add_argument("--one-time", action="store_true", help="valid for one sign-in only")
    tap_issue.set_defaults(handler=cmd_tap_issue)
    tap_revoke = tap_sub.add_parser("revoke", help="Revoke USER's pass")
    tap_revoke.add_argument("user")
    tap_revoke.set_defaults(handler=cmd_tap_revoke)

    oidc_cmd = add("oidc", _needs_action, "The OIDC provider (docs/oidc.md).")
    oidc_sub = _actions(oidc_cmd)
    rotate_help = (
        "Sign ID tokens with a new key from now on; the previous key stays published in the "
        "JWKS so that tokens it signed still verify. Restart every instance afterwards."
    )
    oidc_sub.add_parser("rotate-key", help=rotate_help, description=rotate_help).set_defaults(
        handler=cmd_oidc_rotate_key
    )

    secrets_cmd = add("secrets", _needs_action, "The secret key.")
    secrets_sub = _actions(secrets_cmd)
    secrets_sub.add_parser(
        "rotate", help="Put a new key first in secrets.key_file and re-encrypt every secret"
    ).set_defaults(handler=cmd_secrets_rotate)

    devices_cmd = add("devices", _needs_action, "The managed-device registry.")
    devices_sub = _actions(devices_cmd)
    dev_add = devices_sub.add_parser("add", help="Register a managed device")
    dev_add.add_argument("--fingerprint", required=True, metavar="SHA256HEX")
    dev_add.add_argument("--name", required=True)
    dev_add.add_argument("--owner", metavar="USER")
    dev_add.add_argument("--noncompliant", action="store_true", help="register as non-compliant")
    dev_add.set_defaults(handler=cmd_devices_add)
    devices_sub.add_parser("list", help="List managed devices").set_defaults(
        handler=cmd_devices_list
    )
    dev_remove = devices_sub.add_parser("remove", help="Remove a managed device")
    dev_remove.add_argument("fingerprint", metavar="SHA256HEX")
    dev_remove.set_defaults(handler=cmd_devices_remove)
    dev_import = devices_sub.add_parser(
        "import",
        help="Create or update devices from CSV",
        description="CSV header fingerprint,name,owner,compliant (compliant true/false, empty = "
        "true). All rows are checked first; nothing is applied if any is bad.",
    )
    dev_import.add_argument("file", metavar="FILE.csv")
    dev_import.set_defaults(handler=cmd_devices_import)

    apps_cmd = add("apps", _needs_action, "Apps protected by Gatehouse (what policies target).")
    apps_sub = _actions(apps_cmd)
    app_add = apps_sub.add_parser(
        "add",
        help="Add an app: forward-auth (--host, one or more) or OIDC (--redirect-uri)",
    )
    app_add.add_argument("name", help="what policies call it: letters, digits, . _ -")
    app_add.add_argument("--kind", choices=["forward_auth", "oidc"], required=True)
    app_add.add_argument("--host", action="append", help="host the proxy serves it at")
    app_add.add_argument("--redirect-uri", action="append", help="OIDC redirect URI")
    app_add.add_argument("--third-party", action="store_true", help="ask users for consent (OIDC)")
    app_add.add_argument(
        "--confidential",
        action="store_true",
        help="OIDC client with a secret (printed once), for server-side apps; else public (PKCE)",
    )
    app_add.add_argument(
        "--native",
        action="store_true",
        help="OIDC public client run on people's own computers (RFC 8252): its loopback redirect "
        "URIs may name any port; else every redirect URI matches exactly",
    )
    app_add.set_defaults(handler=cmd_apps_add)
    reissue_help = "Give a confidential OIDC client a new secret (printed once; the old one stops)"
    app_secret = apps_sub.add_parser("secret", help=reissue_help, description=reissue_help)
    app_secret.add_argument("name")
    app_secret.set_defaults(handler=cmd_apps_secret)
    apps_sub.add_parser("list", help="List the apps").set_defaults(handler=cmd_apps_list)
    app_remove = apps_sub.add_parser("remove", help="Remove an app")
    app_remove.add_argument("name")
    app_remove.set_defaults(handler=cmd_apps_remove)

    locations_cmd = add("locations", _needs_action, "Named locations (IP ranges).")
    locations_sub = _actions(locations_cmd)
    locations_sub.add_parser("list", help="List named locations").set_defaults(
        handler=cmd_locations_list
    )
    loc_set = locations_sub.add_parser("set", help="Add or replace a named location")
    loc_set.add_argument("name")
    loc_set.add_argument("ranges", nargs="+", metavar="CIDR")
    loc_set.add_argument("--trusted", action="store_true", help="one of our own networks")
    loc_set.set_defaults(handler=cmd_locations_set)
    loc_remove = locations_sub.add_parser("remove", help="Remove a named location")
    loc_remove.add_argument("name")
    loc_remove.set_defaults(handler=cmd_locations_remove)

    policies_cmd = add("policies", _needs_action, "Conditional-access policies as files.")
    policies_sub = _actions(policies_cmd)
    export = policies_sub.add_parser(
        "export", help="Write every policy to FILE (.yaml/.yml or .toml)"
    )
    export.add_argument("file", metavar="FILE")
    export.set_defaults(handler=cmd_policies_export)
    import_ = policies_sub.add_parser(
        "import",
        help="Replace every policy with those in FILE (.yaml/.yml or .toml); all or nothing",
    )
    import_.add_argument("file", metavar="FILE")
    import_.set_defaults(handler=cmd_policies_import)

    what = add("whatif", cmd_whatif, "Show how the policies would decide a sign-in.")
    what.add_argument("--user", required=True)
    what.add_argument("--ip", required=True)
    what.add_argument(
        "--device", default="personal", metavar="SHA256HEX|personal", help="default: personal"
    )
    what.add_argument("--app", default="")
    what.add_argument("--action", choices=["signin", "register"], default="signin")
    what.add_argument("--client-type", choices=["browser", "modern", "legacy"], default="browser")
    what.add_argument("--json", action="store_true", help="print the decision and trace as JSON")

    tokens_cmd = add("tokens", _needs_action, "Admin API tokens.")
    tokens_sub = _actions(tokens_cmd)
    token_create = tokens_sub.add_parser(
        "create", help="Create an admin API token for USER; the token alone is on the last line"
    )
    token_create.add_argument("user")
    token_create.add_argument("--name", default="cli", help="what it is for (default: cli)")
    token_create.add_argument(
        "--lifetime", type=_lifetime, default=None, help="1h to 365d, e.g. 30d (default 90d)"
    )
    token_create.set_defaults(handler=cmd_tokens_create)
    token_list = tokens_sub.add_parser(
        "list", help="List the active tokens: id, user, expiry, last use (time, address), name"
    )
    token_list.add_argument("--all", action="store_true", help="also expired and revoked ones")
    token_list.set_defaults(handler=cmd_tokens_list)
    token_revoke = tokens_sub.add_parser("revoke", help="Revoke the token ID (from `tokens list`)")
    token_revoke.add_argument("id", type=_positive, metavar="ID")
    token_revoke.set_defaults(handler=cmd_tokens_revoke)

    check_help = (
        "Send requests through your reverse proxy with a forged X-Forwarded-For, managed-device "
        "header and Remote-* identity headers, and report any that reached Gatehouse unchanged "
        "(exit 1 then). URL: Gatehouse's own site or an app it protects, as a browser reaches "
        "them; run it from where a browser would be (docs/proxies/)."
    )
    proxy_check = add("proxy-check", cmd_proxy_check, check_help)
    proxy_check.add_argument("urls", nargs="+", metavar="URL")
    proxy_check.add_argument(
        "--resolve",
        action="append",
        type=_resolve,
        metavar="HOST:PORT:ADDRESS",
        help="connect to ADDRESS for HOST:PORT (as curl's --resolve)",
    )
    proxy_check.add_argument("--cacert", metavar="FILE", help="CA certificates to verify with")
    proxy_check.add_argument("--source", metavar="ADDRESS", help="local address to connect from")

    audit_cmd = add("audit", _needs_action, "The audit trail.")
    audit_sub = _actions(audit_cmd)
    audit_sub.add_parser("verify", help="Check the audit trail's hash chain").set_defaults(
        handler=cmd_audit_verify
    )

    campaign_cmd = add(
        "campaign",
        cmd_campaign,
        "Show, start, replace or end the registration campaign (docs/registration.md).",
    )
    campaign_cmd.add_argument(
        "--deadline",
        type=_date,
        metavar="YYYY-MM-DD",
        help="first day registration is required; starts a campaign or replaces the running "
        "one's settings (options left out take their defaults)",
    )
    campaign_cmd.add_argument(
        "--snooze-days", type=int, metavar="N", help="how long a snooze lasts, 0-14 (default 1)"
    )
    campaign_cmd.add_argument(
        "--snoozes", type=int, metavar="N", help="snoozes allowed per user (default 3)"
    )
    campaign_cmd.add_argument(
        "--groups", nargs="+", metavar="GROUP", help="only users in these groups (default: all)"
    )
    campaign_cmd.add_argument(
        "--exclude", nargs="+", metavar="GROUP", help="never users in these groups"
    )
    campaign_cmd.add_argument("--end", action="store_true", help="end the running campaign")

    directory_cmd = add(
        "directory",
        _needs_action,
        "Directory sources: Active Directory, OpenLDAP (docs/directory.md).",
    )
    directory_sub = _actions(directory_cmd)
    test_help = (
        "Connect to each source (or SOURCE), bind as the service account, find a sample user "
        "and print what Gatehouse would make of them: mapped values and groups"
    )
    directory_test = directory_sub.add_parser("test", help=test_help, description=test_help)
    directory_test.add_argument("source", nargs="?", metavar="SOURCE")
    directory_test.add_argument(
        "--user",
        metavar="NAME",
        help="this user (username or sign-in name) rather than the first found",
    )
    directory_test.set_defaults(handler=cmd_directory_test)
    sync_help = (
        "Sync users, groups and memberships from each source (or SOURCE): incremental unless "
        "--full. Stops, changing nothing, if it would disable or remove more than "
        "directory.disable_threshold users and groups, unless --force."
    )
    directory_sync = directory_sub.add_parser("sync", help=sync_help, description=sync_help)
    directory_sync.add_argument("source", nargs="?", metavar="SOURCE")
    directory_sync.add_argument(
        "--full", action="store_true", help="read everything, not only changes"
    )
    directory_sync.add_argument(
        "--dry-run", action="store_true", help="print what would change; change nothing"
    )
    directory_sync.add_argument(
        "--force", action="store_true", help="apply even past directory.disable_threshold"
    )
    directory_sync.add_argument("--verbose", action="store_true", help="print every change made")
    directory_sync.set_defaults(handler=cmd_directory_sync)

    jobs_cmd = add(
        "jobs",
        _needs_action,
        "Scheduled jobs (directory sync, registration reminders, clearing expired OIDC tokens, "
        "retention).",
    )
    jobs_sub = _actions(jobs_cmd)
    jobs_run = jobs_sub.add_parser(
        "run", help="Run every job (or those named) once; safe to repeat, e.g. from cron"
    )
    jobs_run.add_argument("jobs", nargs="*", metavar="JOB", help="e.g. registration-reminders")
    jobs_run.set_defaults(handler=cmd_jobs_run)
    jobs_worker = jobs_sub.add_parser("worker", help="Run every job now and every N minutes")
    jobs_worker.add_argument(
        "--every", type=_positive, default=15, metavar="N", help="minutes (default 15)"
    )
    jobs_worker.set_defaults(handler=cmd_jobs_worker)

    report_cmd = add("report", _needs_action, "Reports.")
    report_sub = _actions(report_cmd)
    report_registration = report_sub.add_parser(
        "registration",
        help="Registered and not registered users by group and department, with methods in use",
    )
    report_registration.add_argument("--csv", action="store_true", help="CSV instead of a table")
    report_registration.set_defaults(handler=cmd_report_registration)

    backup_help = (
        "Copy the SQLite database to FILE while Gatehouse runs (SQLite's online backup); "
        "PostgreSQL: pg_dump (docs/deployment.md). The key files are not in it: keep them too."
    )
    backup_cmd = add("backup", cmd_backup, backup_help)
    backup_cmd.add_argument("file", metavar="FILE")
    restore_cmd = add(
        "restore",
        cmd_restore,
        "Replace the SQLite database with the backup FILE (stop every Gatehouse process first).",
    )
    restore_cmd.add_argument("file", metavar="FILE")
    restore_cmd.add_argument(
        "--yes", action="store_true", help="yes, replace every row of the database"
    )

    signins = add("signins", _needs_action, "Read the sign-in log.")
    signins_sub = _actions(signins)
    tail = signins_sub.add_parser("tail", help="Print the most recent sign-ins, oldest first")
    tail.add_argument("-n", type=_positive, default=20, help="how many (default 20)")
    tail.set_defaults(handler=cmd_signins_tail)
    export_help = (
        "Write the sign-in events from --since (to --until) to standard output, oldest first, "
        "one JSON object per line (docs/signin-log.md), e.g. for a SIEM"
    )
    export = signins_sub.add_parser("export", help=export_help, description=export_help)
    export.add_argument(
        "--since",
        type=_moment,
        required=True,
        metavar="WHEN",
        help="a date or time (2030-01-31, 2030-01-31T08:00:00Z; UTC unless given) or a "
        "duration before now (15m, 24h, 7d)",
    )
    export.add_argument("--until", type=_moment, metavar="WHEN", help="up to (not including)")
    export.add_argument("--format", choices=["jsonl"], default="jsonl", help="jsonl (the default)")
    export.set_defaults(handler=cmd_signins_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.config:
        os.environ[gatehouse_config.CONFIG_ENV] = args.config
    try:
        args.handler(args)
    except (CommandError, gatehouse_config.ConfigError) as exc:
        print(f"gatehouse {args.command}: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
