"""Where a page's CPU goes under load: the app's workers, PostgreSQL, and the floor's.

    .venv/bin/python tests/bench/run.py --cases 50000 --keep-database   # prints URL, password
    DATABASE_URL=<that URL> BENCH_PASSWORD=<password> \\
        .venv/bin/python tests/bench/cpu_per_request.py inbox|submission|home|form [--rounds 4]

Serves the app and the floor (floor.py) with gunicorn as `make bench` does, drives the
page and its floor (the 25-row select, the case-row insert, or the 5 KB template) with
wrk in turns, and reads from /proc the CPU each process group used: the app's workers,
the floor's, and PostgreSQL's backends. Printed per request, so a change can be judged
by what it costs the whole machine, not only the worker (`make bench` gives the rates;
this says which process spends them). `--workers 1 --connections 1` measures a page one
request at a time, with no other worker between its requests.
"""

import argparse
import os
import secrets
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import load  # noqa: E402
import run  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(app: load.Server, floor: load.Server) -> dict[str, int]:
    """CPU ticks so far of the app's and the floor's process groups and of PostgreSQL."""
    used = {"app": 0, "floor": 0, "postgres": 0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # ended while we looked
            continue
        fields = stat.rsplit(")", 1)[1].split()
        ticks, group = int(fields[11]) + int(fields[12]), int(fields[2])
        if group == app.process.pid:
            used["app"] += ticks
        elif group == floor.process.pid:
            used["floor"] += ticks
        elif b"postgres" in command:
            used["postgres"] += ticks
    return used


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("page", choices=["inbox", "submission", "home", "form"])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="sync workers of each server")
    args = parser.parse_args()
    bench_url = os.environ["DATABASE_URL"]
    work = Path(tempfile.mkdtemp(prefix="samverkan-cpu-"))
    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        "SAMVERKAN_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "SAMVERKAN_INSTANCE": str(work / "instance"),
        "SUBMISSIONS_PER_ADDRESS": "1000000 per minute",
        "SUBMISSIONS_PER_MEMBER": "1000000 per minute",
        # Receipts go as in production: the bench's drafts share a few addresses.
        "RECEIPTS_PER_RECIPIENT": "1000000 per minute",
    }
    floor_env = {
        **env,
        "FLOOR_DATABASE_URL": run._app_role_url(bench_url),
        "FLOOR_TENANT_ID": str(run._tenant_id(bench_url, run.WORKER_MEMBER)),
        **run._floor_case(bench_url),
    }
    settings = load.ServerSettings("sync", args.workers)
    app = load.Server("wsgi:app", run.APP_PORT, settings, env, work / "app.log")
    floor = load.Server("floor:app", run.FLOOR_PORT, settings, floor_env, work / "floor.log")
    try:
        app.wait_ready("/healthz")
        floor.wait_ready("/template")
        wrk = load.ensure_wrk()
        if args.page == "inbox":
            cookie = run.sign_in(app.url, os.environ["BENCH_PASSWORD"])
            rows = [(f"/{run.WORKER_MEMBER}/staff/", cookie, "")]
            ours = run.Target(app.url, load.write_requests(work / "inbox.txt", rows))
            floor_target = run.Target(
                floor.url, load.write_requests(work / "select.txt", [("/select", "", "x=1")])
            )
        elif args.page in ("home", "form"):
            ours = run.Target(app.url, run.page_requests(bench_url, work)[args.page])
            floor_target = run.Target(
                floor.url, load.write_requests(work / "template.txt", [("/template", "", "")])
            )
        else:
            drafts = int(args.connections * 150 * (args.rounds * args.seconds + 3))
            requests_file = run.submission_requests(bench_url, env, work, drafts, "cpu")
            ours = run.Target(app.url, requests_file, "POST", 303)
            floor_target = run.Target(
                floor.url,
                load.write_requests(work / "insert.txt", [("/insert", "", "x=1")]),
                "POST",
                201,
            )
        ours.run(wrk, args, 3)  # warm-up
        floor_target.run(wrk, args, 3)
        totals = {"ours": [0, {}], "floor": [0, {}]}
        order = [("ours", ours), ("floor", floor_target)]
        for turn in range(args.rounds):
            for name, target in order if turn % 2 == 0 else reversed(order):
                before = cpu_ticks(app, floor)
                result = target.run(wrk, args, args.seconds)
                after = cpu_ticks(app, floor)
                if result["errors"]:
                    raise SystemExit(f"{name}: {result['errors']} unexpected answers")
                totals[name][0] += result["requests"]
                for group in before:
                    used = totals[name][1]
                    used[group] = used.get(group, 0) + after[group] - before[group]
        for name, (requests_made, used) in totals.items():
            each = {group: ticks / TICKS / requests_made * 1e6 for group, ticks in used.items()}
            print(
                f"{name}: {requests_made} requests; CPU µs per request: "
                + ", ".join(f"{group} {value:.0f}" for group, value in each.items() if value)
                + f"; together {sum(each.values()):.0f}"
            )
    finally:
        try:
            app.stop()
        finally:
            floor.stop()


if __name__ == "__main__":
    main()
