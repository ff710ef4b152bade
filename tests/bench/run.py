"""`make bench`: how fast Samverkan is, measured against a bare Flask floor.

Seeds a fresh PostgreSQL database (16 members, 1 000 000 cases; --large: 290 members,
10 000 000), serves the app with gunicorn and config/gunicorn.conf.py as production does,
drives it with wrk over loopback and prints requests per second with p50/p99 for each page,
beside the floor doing the same database work (tests/bench/floor.py). Also times the cost
allocation for 290 members × 1 000 pools. Results: tests/bench/results/latest.json.

    .venv/bin/python tests/bench/run.py [--large] [--cases N] [--seconds S]
        [--servers sync:4,sync:2,gthread:2x4] [--keep-database]

DATABASE_URL names the server (default postgresql://postgres@127.0.0.1:5432/postgres): a
database is created there and dropped afterwards; the one the URL names is never touched.
"""

import argparse
import json
import os
import platform
import re
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import psycopg
import requests
import sqlalchemy as sa

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import allocation_bench  # noqa: E402
import examples  # noqa: E402
import load  # noqa: E402
import seed  # noqa: E402

ROOT = load.ROOT
FLASK = Path(sys.executable).parent / "flask"
WORKER_EMAIL = "bench.handlaggare@bench.invalid"
WORKER_MEMBER = "karlstad"  # the largest member: the deepest inbox
SUBMIT_SERVICE = "synpunkter"
APP_PORT, FLOOR_PORT = 8411, 8412
# Done means (issue 5), each a ratio of our figure to the floor's, or a latency.
TARGETS = {
    "submission": ("insert", 0.50, 60.0),
    "home": ("template", 0.60, None),
    "form": ("template", 0.60, None),
    "inbox": ("select", 0.60, 50.0),
    "case": ("select", None, None),
}
# Floors measured in the same turns and shown beside the judged one: the scratch-table
# insert this bench judged the submission by until 2026-12-04.
ALSO_COMPARED = {"submission": ("scratch",)}


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--large", action="store_true", help="290 members, 10 000 000 cases")
    parser.add_argument("--cases", type=int, help="how many cases to seed (a quick run)")
    parser.add_argument(
        "--seconds", type=float, default=12, help="each measurement, in 4 slices of whole seconds"
    )
    parser.add_argument("--warmup", type=float, default=3, help="before each measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--servers",
        # As production serves: config/gunicorn.conf.py's default is 4 sync workers.
        default="sync:4",
        help="gunicorn settings to compare: sync:4,sync:2,gthread:2x4 (the first is reported)",
    )
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--output", default=str(BENCH_DIR / "results" / "latest.json"))
    args = parser.parse_args()
    args.members = 290 if args.large else 16
    args.cases = args.cases or (10_000_000 if args.large else 1_000_000)
    return args


# -- the database ----------------------------------------------------------------------------


def create_database(server_url: str) -> str:
    url = sa.make_url(server_url)
    if url.get_backend_name() != "postgresql":
        raise SystemExit("the bench needs PostgreSQL: DATABASE_URL=postgresql://…")
    name = f"samverkan_bench_{os.getpid()}"
    with _server(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name, drivername="postgresql").render_as_string(hide_password=False)


def drop_database(server_url: str, bench_url: str) -> None:
    name = sa.make_url(bench_url).database
    with _server(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _server(server_url: str) -> psycopg.Connection:
    url = sa.make_url(server_url).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def flask(env: dict, *arguments: str) -> str:
    done = subprocess.run(
        [str(FLASK), "--app", "wsgi", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"flask {' '.join(arguments)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def prepare(args, env: dict, bench_url: str) -> dict:
    """Migrations and sync the app's own way, the members, the case worker, the cases."""
    started = time.monotonic()
    flask(env, "db", "upgrade")
    flask(env, "sync")
    log(f"migrated and synced ({time.monotonic() - started:.0f} s)")
    with psycopg.connect(bench_url) as conn:
        if args.members > 16:
            seed.add_synthetic_members(conn, args.members)
        out = flask(
            env,
            "users",
            "create",
            "--tenant",
            WORKER_MEMBER,
            "--role",
            "case_worker",
            "--name",
            "Bench Handläggare",
            "--generate-password",
            WORKER_EMAIL,
        )
        password = re.search(r"password: (\S+)", out).group(1)
        worker_id, worker_tenant = conn.execute(
            "SELECT u.id, m.tenant_id FROM users u JOIN memberships m ON m.user_id = u.id "
            "WHERE u.email = %s",
            (WORKER_EMAIL,),
        ).fetchone()
        seed.seed_cases(
            conn, args.cases, examples.answers_by_service(conn), worker_id, worker_tenant
        )
        seed.check_gapless(conn)
        # The floors' writes, by the same role the app runs as: case rows numbered from
        # their own sequence, far above any member's series, and the earlier scratch table.
        conn.execute("CREATE SEQUENCE bench_floor_case_numbers START 90000000")
        conn.execute("GRANT USAGE ON SEQUENCE bench_floor_case_numbers TO samverkan_app")
        conn.execute(
            "CREATE TABLE bench_floor_writes (id bigserial PRIMARY KEY, tenant_id int NOT NULL,"
            " payload json NOT NULL, created_at timestamptz NOT NULL)"
        )
        conn.execute("GRANT INSERT, SELECT ON bench_floor_writes TO samverkan_app")
        conn.execute("GRANT USAGE ON SEQUENCE bench_floor_writes_id_seq TO samverkan_app")
        conn.commit()
        seed.analyze(conn)
        counts = dict(
            conn.execute(
                "SELECT 'cases', count(*) FROM cases UNION ALL "
                "SELECT 'case_events', count(*) FROM case_events UNION ALL "
                "SELECT 'members', count(*) FROM tenants"
            ).fetchall()
        )
    log(f"database ready: {counts} ({time.monotonic() - started:.0f} s)")
    return {"password": password, "seconds": time.monotonic() - started, "counts": counts}


# -- what the load generator sends -----------------------------------------------------------


def page_requests(bench_url: str, work: Path) -> dict[str, Path]:
    with psycopg.connect(bench_url) as conn:
        members = [r[0] for r in conn.execute("SELECT slug FROM tenants ORDER BY id")][:16]
        forms = conn.execute(
            "SELECT t.slug, ts.service_slug, d.content FROM tenant_services ts "
            "JOIN tenants t ON t.id = ts.tenant_id "
            "JOIN service_definitions d ON d.id = ts.definition_id "
            "WHERE ts.enabled AND t.slug = ANY(%s) ORDER BY t.id, ts.service_slug",
            (members,),
        ).fetchall()
        references = [
            r[0]
            for r in conn.execute(
                "SELECT reference FROM cases WHERE tenant_id = "
                "(SELECT id FROM tenants WHERE slug = %s) ORDER BY random() LIMIT 2000",
                (WORKER_MEMBER,),
            )
        ]
    return {
        "home": load.write_requests(work / "home.txt", [(f"/{m}/", "", "") for m in members]),
        "form": load.write_requests(
            work / "form.txt",
            # An anonymous visitor's form: one that needs e-ID sends them to sign in first.
            [
                (f"/{m}/e/{s}/steg/{c['steps'][0]['id']}", "", "")
                for m, s, c in forms
                if not c.get("login_required")
            ],
        ),
        "case_paths": [f"/{WORKER_MEMBER}/staff/arenden/{ref}" for ref in references],
    }


def submission_requests(bench_url: str, env: dict, work: Path, count: int, tag: str) -> Path:
    """`count` completed drafts across the members, each with the signed session cookie
    and CSRF token its browser would hold on the check-your-answers page: each POST is one
    real submission through the web form."""
    from flask import session
    from flask_wtf.csrf import generate_csrf

    app = _in_process_app(env)
    with psycopg.connect(bench_url) as conn:
        form = examples.forms(conn)[SUBMIT_SERVICE]
        steps = [s["id"] for s in form.steps]
        members = conn.execute("SELECT count(*) FROM tenants WHERE status = 'active'")
        per_member = max(1, count // members.fetchone()[0])
        drafts = []
        for raw in examples.RAW[SUBMIT_SERVICE]:  # anonymous, and with a reply address
            answers = examples.stored_answers(form, raw)
            drafts += seed.seed_drafts(conn, per_member // 2 + 1, SUBMIT_SERVICE, answers, steps)
        slugs = dict(conn.execute("SELECT id, slug FROM tenants").fetchall())
    rows = []
    serializer = app.session_interface.get_signing_serializer(app)
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    # Interleave members as real traffic would.
    drafts.sort(key=lambda d: d[1])
    for tenant_id, draft_id in drafts:
        with app.test_request_context():
            session["drafts"] = {f"{tenant_id}:{SUBMIT_SERVICE}": draft_id}
            token = generate_csrf()
            cookie = serializer.dumps(dict(session))
        rows.append(
            (
                f"/{slugs[tenant_id]}/e/{SUBMIT_SERVICE}",
                f"{cookie_name}={cookie}",
                f"csrf_token={quote(token)}",
            )
        )
    return load.write_requests(work / f"submit-{tag}.txt", rows)


_app = None


def _in_process_app(env: dict):
    """The app itself, for its secret key and session signing (no server, no requests)."""
    global _app
    if _app is None:
        os.environ.update(env)
        from samverkan import create_app

        _app = create_app()
    return _app


def sign_in(url: str, password: str) -> str:
    """A case worker's session cookie, by signing in as a person would."""
    client = requests.Session()
    client.headers["User-Agent"] = load.USER_AGENT  # as wrk sends it (load.py)
    page = client.get(f"{url}/{WORKER_MEMBER}/staff/logga-in", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post(
        f"{url}/{WORKER_MEMBER}/staff/logga-in",
        data={"csrf_token": token, "email": WORKER_EMAIL, "password": password},
        allow_redirects=False,
        timeout=10,
    )
    if answer.status_code != 303 and answer.status_code != 302:
        raise RuntimeError(f"signing in failed: {answer.status_code}")
    check = client.get(f"{url}/{WORKER_MEMBER}/staff/", allow_redirects=False, timeout=10)
    if check.status_code != 200:
        raise RuntimeError(f"the inbox after signing in answered {check.status_code}")
    return "; ".join(f"{c.name}={c.value}" for c in client.cookies)


# -- measuring -------------------------------------------------------------------------------


ROUNDS = 4  # slices per figure, ours and its floor taking turns


@dataclass
class Target:
    """What wrk drives: one server's URL, the request lines, the method."""

    url: str
    requests_file: Path
    method: str = "GET"
    expect: int = 200  # the status every response must have (else it counts as an error)
    offset: int = 0  # the next unused line (a submission's draft is used once)

    def run(self, wrk: str, args, seconds: float) -> dict:
        result = load.run_wrk(
            wrk,
            self.url,
            self.requests_file,
            method=self.method,
            connections=args.connections,
            seconds=seconds,
            offset=self.offset,
            expect=self.expect,
        )
        # Requests still in flight when wrk stopped may have used a line too.
        self.offset += result["requests"] + args.connections
        return result


def measure_turns(wrk: str, ours: Target, floors: dict[str, Target], args) -> tuple[dict, dict]:
    """Our page and its floors, measured in turns: each warmed up, then ROUNDS slices of
    seconds/ROUNDS each (whole seconds: wrk's), the order reversed every round. A machine
    whose speed drifts (a shared host) then slows all alike, so the ratio compares like
    with like. p50 is the median slice's, p99 the worst slice's (wrk's histograms are not
    merged): a p99 target is judged on the worst quarter of the run. Returns our result
    and each floor's, by name."""
    warm_ours = ours.run(wrk, args, args.warmup)
    for floor in floors.values():
        floor.run(wrk, args, args.warmup)
    turn_order = [("ours", ours), *floors.items()]
    slices: dict[str, list[dict]] = {name: [] for name, _ in turn_order}
    for turn in range(ROUNDS):
        for name, target in turn_order if turn % 2 == 0 else reversed(turn_order):
            slices[name].append(target.run(wrk, args, args.seconds / ROUNDS))
    ours_result = _combined(slices.pop("ours"))
    ours_result["warmup_requests"] = warm_ours["requests"]
    return ours_result, {name: _combined(parts) for name, parts in slices.items()}


def _combined(slices: list[dict]) -> dict:
    """Requests per second over all slices; the median slice's p50 and the worst p99."""
    requests_made = sum(s["requests"] for s in slices)
    seconds = sum(s["raw"]["duration_us"] for s in slices) / 1e6
    p50s = sorted(s["p50_ms"] for s in slices)
    return {
        "requests": requests_made,
        "rps": requests_made / seconds,
        "p50_ms": p50s[len(p50s) // 2],
        "p90_ms": max(s["p90_ms"] for s in slices),
        "p99_ms": max(s["p99_ms"] for s in slices),
        "max_ms": max(s["max_ms"] for s in slices),
        "errors": sum(s["errors"] for s in slices),
        "unexpected_examples": sorted({e for s in slices for e in s["unexpected_examples"]})[:3],
        "slices": [
            {
                "requests": s["requests"],
                "seconds": s["raw"]["duration_us"] / 1e6,
                **{k: s[k] for k in ("rps", "p50_ms", "p99_ms", "errors")},
            }
            for s in slices
        ],
    }


def cases_count(bench_url: str, where: str = "true") -> int:
    with psycopg.connect(bench_url) as conn:
        return conn.execute(f"SELECT count(*) FROM cases WHERE {where}").fetchone()[0]


# What the bench itself writes: drafts prepared for the submissions, and what the
# submissions, the case page (its audit rows) and the insert floors write.
WRITTEN_TABLES = (
    "drafts",
    "cases",
    "case_events",
    "reference_counters",
    "outbox_messages",
    "audit_log",
    "bench_floor_writes",
)


def settle(bench_url: str) -> float:
    """VACUUM (ANALYZE) what the bench wrote, before each page is measured (as pgbench
    vacuums before its runs): otherwise autovacuum cleans up after the drafts and the
    submissions while a later page and its floor are measured, on the same two cores.
    Returns the seconds it took."""
    started = time.perf_counter()
    with psycopg.connect(bench_url, autocommit=True) as conn:
        conn.execute(f"VACUUM (ANALYZE) {', '.join(WRITTEN_TABLES)}")
    return time.perf_counter() - started


def bench_server(args, wrk, env, bench_url, settings, pages, password, work, tag) -> dict:
    """Our pages and the floor, both served (the idle one waits in accept), each page
    measured in turns with the floor endpoints it is compared to (measure_turns)."""
    results = {}
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    # Enough drafts for the fastest submission rate we could see, each used once.
    drafts = int(args.connections * 150 * (args.seconds + args.warmup))
    submit_file = submission_requests(bench_url, env, work, drafts, tag)
    lines = sum(1 for _ in submit_file.open())

    floor_env = {
        **env,
        "FLOOR_DATABASE_URL": _app_role_url(bench_url),
        "FLOOR_TENANT_ID": str(_tenant_id(bench_url, WORKER_MEMBER)),
        **_floor_case(bench_url),
    }
    server = load.Server("wsgi:app", APP_PORT, settings, env, logs / f"app-{tag}.log")
    floor = load.Server("floor:app", FLOOR_PORT, settings, floor_env, logs / f"floor-{tag}.log")
    try:
        server.wait_ready("/healthz")
        floor.wait_ready("/template")
        cookie = sign_in(server.url, password)
        staff_file = load.write_requests(
            work / f"inbox-{tag}.txt", [(f"/{WORKER_MEMBER}/staff/", cookie, "")]
        )
        case_file = load.write_requests(
            work / f"case-{tag}.txt", [(p, cookie, "") for p in pages["case_paths"]]
        )
        floors = {
            name: Target(
                floor.url,
                load.write_requests(work / f"floor-{name}.txt", [(f"/{name}", "", "x=1")]),
                *(("POST", 201) if name in ("insert", "scratch") else ("GET", 200)),
            )
            for name in ("template", "select", "insert", "scratch")
        }
        ours = {
            "home": Target(server.url, pages["home"]),
            "form": Target(server.url, pages["form"]),
            "submission": Target(server.url, submit_file, "POST", 303),  # to the receipt
            "inbox": Target(server.url, staff_file),
            "case": Target(server.url, case_file),
        }
        floor_slices: dict[str, list[dict]] = {}
        for name, target in ours.items():
            floor_name = TARGETS[name][0]
            compared = [floor_name, *ALSO_COMPARED.get(name, ())]
            before = cases_count(bench_url, "number < 90000000") if name == "submission" else None
            vacuumed = settle(bench_url)
            log(f"{settings.label} {name}: vacuumed what the bench wrote ({vacuumed:.1f} s)")
            results[name], paired = measure_turns(
                wrk, target, {f: floors[f] for f in compared}, args
            )
            results[name]["floor_rps"] = paired[floor_name]["rps"]
            results[name]["also_rps"] = {f: paired[f]["rps"] for f in compared[1:]}
            for f in compared:
                floor_slices.setdefault(f, []).extend(paired[f]["slices"])
            log(
                f"{settings.label} {name}: {_short(results[name])}; in the same turns: "
                + ", ".join(f"{f} {paired[f]['rps']:.0f} rps" for f in compared)
            )
            if name == "submission":
                # Ours only: the floor's case rows are numbered above every series.
                made = cases_count(bench_url, "number < 90000000") - before
                results[name]["cases_created"] = made
                results[name]["drafts_prepared"] = lines
                log(f"{settings.label} submission: {made} cases created")
                sent = results[name]["requests"] + results[name]["warmup_requests"]
                if target.offset > lines or made < sent:
                    log(f"WARNING: drafts used up to {target.offset}, {lines} drafts, {made} cases")
        # Each floor's own row: all its slices, whichever page they were paired with.
        for floor_name, parts in floor_slices.items():
            total = sum(s["requests"] for s in parts)
            results[floor_name] = {
                "requests": total,
                "rps": total / sum(s["seconds"] for s in parts),
                "p50_ms": sorted(s["p50_ms"] for s in parts)[len(parts) // 2],
                "p99_ms": max(s["p99_ms"] for s in parts),
                "errors": sum(s["errors"] for s in parts),
            }
    finally:
        try:
            server.stop()
        finally:
            floor.stop()
    return results


def _short(result: dict) -> str:
    return (
        f"{result['rps']:.0f} rps, p50 {result['p50_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms, errors {result['errors']}"
        + (f" (e.g. {result['unexpected_examples']})" if result.get("unexpected_examples") else "")
    )


def _app_role_url(bench_url: str) -> str:
    url = sa.make_url(bench_url)
    role = os.environ.get("APP_DATABASE_ROLE", "samverkan_app")
    app_url = os.environ.get("APP_DATABASE_URL")
    if app_url:
        url = sa.make_url(app_url).set(database=url.database)
    else:
        url = url.set(username=role, password=None)
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _floor_case(bench_url: str) -> dict:
    """What the insert floor writes: a case of the submitted e-service with the answers
    our submissions carry, for a member the inbox floor does not read."""
    with psycopg.connect(bench_url) as conn:
        tenant_id, definition_id = conn.execute(
            "SELECT ts.tenant_id, ts.definition_id FROM tenant_services ts "
            "JOIN tenants t ON t.id = ts.tenant_id "
            "WHERE ts.service_slug = %s AND ts.enabled AND t.slug <> %s "
            "ORDER BY ts.tenant_id LIMIT 1",
            (SUBMIT_SERVICE, WORKER_MEMBER),
        ).fetchone()
        form = examples.forms(conn)[SUBMIT_SERVICE]
    answers = [examples.stored_answers(form, raw) for raw in examples.RAW[SUBMIT_SERVICE]]
    return {
        "FLOOR_WRITE_TENANT_ID": str(tenant_id),
        "FLOOR_SERVICE": SUBMIT_SERVICE,
        "FLOOR_DEFINITION_ID": str(definition_id),
        "FLOOR_ANSWERS": json.dumps(answers),
    }


def _tenant_id(bench_url: str, slug: str) -> int:
    with psycopg.connect(bench_url) as conn:
        return conn.execute("SELECT id FROM tenants WHERE slug = %s", (slug,)).fetchone()[0]


# -- the report ------------------------------------------------------------------------------

LABELS = {
    "home": "Home page (/<member>/)",
    "form": "Form page (first step)",
    "submission": "Form submission (web, CSRF)",
    "inbox": "Inbox (signed in, 25 rows)",
    "case": "Case page (with audit row)",
    "template": "Floor: 5 KB template",
    "select": "Floor: 25-row select",
    "insert": "Floor: one insert (a case row)",
    "scratch": "Floor: one insert (scratch table)",
}


def verdicts(results: dict) -> dict:
    out = {}
    for name, (floor, ratio_min, p99_max) in TARGETS.items():
        # The floor measured in the same turns as this page (measure_turns).
        ratio = results[name]["rps"] / results[name].get("floor_rps", results[floor]["rps"])
        checks = []
        if ratio_min is not None:
            checks.append(ratio >= ratio_min)
        if p99_max is not None:
            checks.append(results[name]["p99_ms"] < p99_max)
        if checks:  # a page that answered otherwise (a redirect to sign in) was not measured
            checks.append(results[name]["errors"] == 0)
        target = " and ".join(
            ([f"≥ {ratio_min:.0%} of {floor}"] if ratio_min is not None else [])
            + ([f"p99 < {p99_max:.0f} ms"] if p99_max is not None else [])
        )
        out[name] = {
            "floor": floor,
            "ratio": ratio,
            "target": target or "–",
            "verdict": ("PASS" if all(checks) else "FAIL") if checks else "–",
        }
    return out


def table(results: dict, judged: dict, allocation: dict) -> str:
    lines = [
        "| what | rps | p50 ms | p99 ms | ratio to floor | target | |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for name in LABELS:
        r = results[name]
        j = judged.get(name)
        ratio = ""
        if j:  # against the floor measured in the same turns, when it was
            same_turns = f" at {r['floor_rps']:.0f} rps" if "floor_rps" in r else ""
            ratio = f"{j['ratio']:.1%} of {j['floor']}{same_turns}"
            for also, rps in r.get("also_rps", {}).items():
                ratio += f" ({r['rps'] / rps:.1%} of {also} at {rps:.0f} rps)"
        lines.append(
            f"| {LABELS[name]} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{ratio} | {j['target'] if j else ''} | {j['verdict'] if j else ''}"
            + (f" ({r['errors']} errors)" if r.get("errors") else "")
            + " |"
        )
    a = allocation
    lines.append(
        f"| Allocation {a['members']} × {a['pools']} (split, in-process) | | "
        f"{a['split_seconds'] * 1000:.0f} | | | < 1 s | "
        f"{'PASS' if a['split_seconds'] < 1 else 'FAIL'} |"
    )
    if "run_seconds" in a:
        lines.append(
            f"| Allocation run, gather + split + store {a['shares']} shares | | "
            f"{a['run_seconds'] * 1000:.0f} | | | – | – |"
        )
    return "\n".join(lines)


def machine(bench_url: str) -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    with psycopg.connect(bench_url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "postgresql": pg,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def main() -> None:
    args = parse_args()
    wrk = load.ensure_wrk()
    server_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    bench_url = create_database(server_url)
    log(f"database {sa.make_url(bench_url).database}: {args.members} members, {args.cases} cases")
    work = Path(tempfile.mkdtemp(prefix="samverkan-bench-"))
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "FLASK_APP": "wsgi",
        "SAMVERKAN_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),  # 64 characters, new for every run
        "SAMVERKAN_INSTANCE": str(work / "instance"),
        # One load generator is one address: production's per-address limit would stop it
        # after 120 a minute. The limits are still checked on every submission.
        "SUBMISSIONS_PER_ADDRESS": "1000000 per minute",
        "SUBMISSIONS_PER_MEMBER": "1000000 per minute",
        # Receipts go as in production: the bench's drafts share a few addresses.
        "RECEIPTS_PER_RECIPIENT": "1000000 per minute",
    }
    if os.environ.get("APP_DATABASE_URL"):  # the app role's own URL, on the bench database
        env["APP_DATABASE_URL"] = _app_role_url(bench_url)
    password = None
    try:
        prepared = prepare(args, env, bench_url)
        password = prepared["password"]
        pages = page_requests(bench_url, work)
        runs = {}
        for n, text in enumerate(args.servers.split(",")):
            settings = load.ServerSettings.parse(text.strip())
            log(f"serving with {settings.label}")
            runs[settings.label] = bench_server(
                args, wrk, env, bench_url, settings, pages, prepared["password"], work, f"s{n}"
            )
        allocation = allocation_bench.measure(
            bench_url, env, members=290, pools=1000, app=_in_process_app(env)
        )
        first = next(iter(runs))
        judged = {label: verdicts(results) for label, results in runs.items()}
        report = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(bench_url),
            "members": args.members,
            "cases": args.cases,
            "connections": args.connections,
            "seconds": args.seconds,
            "seed_seconds": round(prepared["seconds"]),
            "counts": prepared["counts"],
            "servers": {
                label: {"results": runs[label], "verdicts": judged[label]} for label in runs
            },
            "allocation": allocation,
        }
        for label in runs:
            print(f"\n## {label}, {args.connections} connections, {args.cases} cases\n")
            print(table(runs[label], judged[label], allocation))
        print("\n" + json.dumps(report["machine"]))
        if len(runs) > 1:
            print("\nrps by server settings:")
            for label, results in runs.items():
                print(
                    f"  {label:14} "
                    + " ".join(f"{k}={results[k]['rps']:.0f}" for k in LABELS if k in results)
                )
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        log(f"written to {output} (first settings reported: {first})")
    finally:
        if args.keep_database:
            log(f"kept {bench_url} (case worker {WORKER_EMAIL}, BENCH_PASSWORD={password})")
        else:
            drop_database(server_url, bench_url)


if __name__ == "__main__":
    main()
