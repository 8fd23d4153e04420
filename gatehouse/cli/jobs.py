"""`gatehouse jobs`: scheduled jobs."""

from __future__ import annotations

import argparse

from gatehouse import bootstrap
from gatehouse.cli.base import Add, CommandError, actions, needs_action, positive


def register(add: Add) -> None:
    jobs_cmd = add(
        "jobs",
        needs_action,
        "Scheduled jobs (directory sync, registration reminders, clearing expired OIDC tokens, "
        "retention).",
    )
    jobs_sub = actions(jobs_cmd)
    jobs_run = jobs_sub.add_parser(
        "run", help="Run every job (or those named) once; safe to repeat, e.g. from cron"
    )
    jobs_run.add_argument("jobs", nargs="*", metavar="JOB", help="e.g. registration-reminders")
    jobs_run.set_defaults(handler=cmd_jobs_run)
    jobs_worker = jobs_sub.add_parser("worker", help="Run every job now and every N minutes")
    jobs_worker.add_argument(
        "--every", type=positive, default=15, metavar="N", help="minutes (default 15)"
    )
    jobs_worker.set_defaults(handler=cmd_jobs_worker)


def cmd_jobs_run(args: argparse.Namespace) -> None:
    bootstrap.start()
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


def cmd_jobs_worker(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse import jobs

    print(f"running jobs every {args.every} minutes (see the log); Ctrl-C stops", flush=True)
    jobs.worker(args.every)
