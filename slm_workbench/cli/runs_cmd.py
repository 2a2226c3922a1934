"""``slmw runs list | show | logs | stop | rm``."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict

from ..engine.events import CorruptLine
from ..engine.runs import store
from ..engine.runs.launcher import resume_job, stop_job, wait_for
from ..engine.runs.run import Run
from .follow import follow
from .output import human_duration, human_time, print_json, table


def add_parser(sub: argparse._SubParsersAction) -> None:
    runs = sub.add_parser("runs", help="list, inspect, follow, stop and remove jobs")
    verbs = runs.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("list", help="every run, newest first")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = verbs.add_parser("show", help="a run's status, events and artifacts")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = verbs.add_parser("logs", help="a run's worker.log (and follow it with -f)")
    p.add_argument("id")
    p.add_argument("-f", "--follow", action="store_true", help="print events and log lines until the run ends")
    p.add_argument("-n", "--lines", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_logs)

    p = verbs.add_parser("stop", help="stop a job (SIGTERM to its process group; --force: SIGKILL)")
    p.add_argument("id")
    p.add_argument("--force", action="store_true")
    p.add_argument("--wait", action="store_true", help="wait until it has stopped")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stop)

    p = verbs.add_parser("resume", help="start a stopped, interrupted or failed training run again from its last checkpoint")
    p.add_argument("id")
    p.add_argument("--detach", action="store_true",
                   help="return once it has started (default: follow it until it ends; Ctrl-C detaches)")
    p.add_argument("--json", action="store_true", help="wait quietly, then print the run as JSON")
    p.set_defaults(func=cmd_resume)

    p = verbs.add_parser("rm", help="delete a run directory")
    p.add_argument("id")
    p.add_argument("--force", action="store_true", help="even while it runs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rm)


def _summary(info: store.RunInfo) -> dict:
    status = asdict(info.status) if info.status else None
    return {"id": info.id, "state": info.state, "stage": info.stage, "title": info.title,
            "dir": str(info.dir), "problem": info.problem or None, "status": status}


def _elapsed(info: store.RunInfo) -> float | None:
    if not info.status or not info.status.started:
        return None
    return (info.status.ended or time.time()) - info.status.started


def cmd_list(args: argparse.Namespace) -> int:
    runs = store.RunStore().list()
    if args.json:
        print_json([_summary(r) for r in runs])
        return 0
    if not runs:
        print("no runs yet (start one: slmw models prepare smollm2-135m-instruct)")
        return 0
    rows = [
        (r.id, r.state, r.stage, human_time(r.status.created if r.status else None), human_duration(_elapsed(r)), r.problem)
        for r in runs
    ]
    print(table(["ID", "STATE", "STAGE", "CREATED", "ELAPSED", "PROBLEM"], rows))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    info = store.RunStore().get(args.id)
    events = store.read_events(info.dir)
    if args.json:
        out = _summary(info)
        out["events"] = [
            {"kind": e.kind, **({k: v for k, v in e.__dict__.items()})} for e in events
        ]
        print_json(out)
        return 0
    print(f"run      {info.id}\nstate    {info.state}\nstage    {info.stage}\ndir      {info.dir}")
    if info.problem:
        print(f"problem  {info.problem}")
    if info.status:
        print(f"pid      {info.status.pid} (host {info.status.host})")
        print(f"created  {human_time(info.status.created)}   elapsed {human_duration(_elapsed(info))}")
    print("events:")
    for event in events:
        prefix = "  !" if isinstance(event, CorruptLine) else "  "
        stamp = "" if isinstance(event, CorruptLine) else time.strftime("%H:%M:%S ", time.localtime(event.time))
        print(f"{prefix}{stamp}{event.summary()}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    info = store.RunStore().get(args.id)
    if args.follow:
        for line in Run(info.dir).log_lines(args.lines):
            print(f"  | {line}")
        info = follow(info.dir, show_log=True)
        print(f"run {info.id}: {info.state}")
        return 0 if info.state == "done" else 1
    lines = Run(info.dir).log_lines(args.lines)
    if args.json:
        print_json({"id": info.id, "lines": lines})
    else:
        print("\n".join(lines))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    info = store.RunStore().get(args.id)
    stop_job(info, force=args.force)
    if args.wait:
        info = wait_for(info.dir, timeout=120)
    if args.json:
        print_json(_summary(info))
    else:
        print(f"run {info.id}: {'stop requested' if not args.wait else info.state}")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    run_id = store.RunStore().remove(args.id, force=args.force)
    if args.json:
        print_json({"removed": run_id})
    else:
        print(f"removed {run_id}")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    info = store.RunStore().get(args.id)
    resume_job(info)
    if args.detach:
        if args.json:
            print_json(_summary(store.RunStore().info(info.dir)))
        else:
            print(info.id)
        print(f"follow it: slmw runs logs {info.id} -f", file=sys.stderr)
        return 0
    if args.json:
        info = wait_for(info.dir)
        print_json(_summary(info))
    else:
        print(f"run {info.id} resumed (Ctrl-C detaches; the job goes on)", flush=True)
        info = follow(info.dir)
        print(f"run {info.id}: {info.state}")
    return 0 if info.state == "done" else 1
