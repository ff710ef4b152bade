"""Where a page's time goes: the same requests the bench sends, in-process under cProfile.

    .venv/bin/python tests/bench/run.py --cases 50000 --keep-database   # prints its URL
    DATABASE_URL=<that URL> .venv/bin/python tests/bench/profile_pages.py home|form|inbox|
        case|submission|floor [--requests 200]

`floor` is the bare template endpoint of floor.py (no database), through the same test
client and loop: what the home and form pages cost beyond it is the app's own overhead.

Uses the bench database as it was left; BENCH_PASSWORD is the case worker's (printed by run.py).
"""

import argparse
import cProfile
import os
import pstats
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("page", choices=["home", "form", "inbox", "case", "submission", "floor"])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--sql", action="store_true", help="print one request's statements")
    parser.add_argument("--plain", action="store_true", help="time the requests, no profiler")
    parser.add_argument("--dump", help="also write the profile here (for pstats)")
    args = parser.parse_args()
    bench_url = os.environ["DATABASE_URL"]
    work = Path(tempfile.mkdtemp(prefix="samverkan-profile-"))
    env = {
        **os.environ,
        "SAMVERKAN_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "SAMVERKAN_INSTANCE": str(work / "instance"),
        "SUBMISSIONS_PER_ADDRESS": "1000000 per minute",
        "SUBMISSIONS_PER_MEMBER": "1000000 per minute",
        # Receipts go as in production: the bench's drafts share a few addresses.
        "RECEIPTS_PER_RECIPIENT": "1000000 per minute",
    }
    if args.page == "floor":
        os.environ.setdefault("FLOOR_DATABASE_URL", bench_url)  # the engine never connects
        import floor

        app, rows = floor.app, [("/template", "", "")]
    else:
        app = run._in_process_app(env)
        pages = run.page_requests(bench_url, work)
    client = app.test_client()
    if args.page == "floor":
        pass
    elif args.page in ("home", "form"):
        rows = [line.rstrip("\n").split("\t") for line in pages[args.page].open()]
    elif args.page == "submission":
        path = run.submission_requests(bench_url, env, work, args.requests + 50, "profile")
        rows = [line.rstrip("\n").split("\t") for line in path.open()]
    else:
        cookie = _signed_in_cookie(app, client)
        paths = [f"/{run.WORKER_MEMBER}/staff/"] if args.page == "inbox" else pages["case_paths"]
        rows = [(p, cookie, "") for p in paths]

    def one(n: int):
        path, cookie, body = rows[n % len(rows)]
        if cookie:  # the test client keeps cookies in its own jar, not in a header
            name, _, value = cookie.partition("=")
            client.set_cookie(name, value)
        elif args.page in ("home", "form"):  # as the bench's visitors: new, with no cookie
            client._cookies.clear()
        if args.page == "submission":
            return client.post(
                path, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
            )
        return client.get(path)

    # Warm up: first requests compile templates and fill caches, once for every page the
    # measured requests go through (as the bench's own warm-up does before it measures).
    # A submission's draft is used once: its warm-up takes drafts the measured ones don't.
    warm_up = (
        range(args.requests, args.requests + 20)
        if args.page == "submission"
        else range(max(10, min(len(rows), args.requests)))
    )
    for n in warm_up:
        status = one(n).status_code
    print(f"status of a warm-up request: {status}")
    if args.sql:
        _print_statements(app, lambda: one(args.requests + 30))
        return
    if args.plain:  # this process's CPU time is steadier than the clock on a busy machine
        started, cpu = time.perf_counter(), time.process_time()
        for n in range(args.requests):
            one(n)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        each = 1000 / args.requests
        print(f"{args.requests} requests, {elapsed * each:.2f} ms each, CPU {cpu * each:.3f} ms")
        return
    profiler = cProfile.Profile(time.process_time)  # CPU, not waiting on the database
    started = time.perf_counter()
    profiler.enable()
    for n in range(args.requests):
        one(n)
    profiler.disable()
    elapsed = time.perf_counter() - started
    print(f"{args.requests} requests, {elapsed / args.requests * 1000:.2f} ms each (profiled)")
    if args.dump:
        profiler.dump_stats(args.dump)
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(args.top)
    stats.sort_stats("tottime").print_stats(20)


def _print_statements(app, request) -> None:
    """Every round trip one request makes: statements, and BEGIN/COMMIT/SAVEPOINT."""
    import sqlalchemy as sa

    from samverkan.extensions import db

    with app.app_context():
        engine = db.engine
    seen = []

    def statement(conn, cursor, text, params, context, many):
        seen.append(" ".join(text.split())[:150])

    def begin(conn):
        seen.append("BEGIN")

    def commit(conn):
        seen.append("COMMIT")

    def rollback(conn):
        seen.append("ROLLBACK")

    def savepoint(conn, name):
        seen.append("SAVEPOINT")

    def release(conn, name, context):
        seen.append("RELEASE SAVEPOINT")

    listeners = [
        ("before_cursor_execute", statement),
        ("begin", begin),
        ("commit", commit),
        ("rollback", rollback),
        ("savepoint", savepoint),
        ("release_savepoint", release),
    ]
    for name, listener in listeners:
        sa.event.listen(engine, name, listener)
    print(f"status {request().status_code}")
    for name, listener in listeners:
        sa.event.remove(engine, name, listener)
    print(f"{len(seen)} round trips:")
    for line in seen:
        print("  " + line)


def _signed_in_cookie(app, client) -> str:
    """Signs the test client in (it keeps the cookie itself) with $BENCH_PASSWORD, which
    run.py prints when it keeps the database."""
    page = client.get(f"/{run.WORKER_MEMBER}/staff/logga-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post(
        f"/{run.WORKER_MEMBER}/staff/logga-in",
        data={
            "csrf_token": token,
            "email": run.WORKER_EMAIL,
            "password": os.environ["BENCH_PASSWORD"],
        },
    )
    if answer.status_code not in (302, 303):
        raise SystemExit(f"signing in failed ({answer.status_code}): is BENCH_PASSWORD right?")
    return ""


if __name__ == "__main__":
    main()
