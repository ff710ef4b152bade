"""The floor: a bare Flask app doing the same database work as ours, with nothing else.

Served by the same gunicorn settings (config/gunicorn.conf.py) as the app, as the same
database role, so the ratio ours/floor is what the framework, the checks and the pages cost
on top of the database work. Three endpoints:

- POST /insert    one plain INSERT of a case row into the cases table, as a web
                  submission's answers would be stored (the member set for row-level
                  security, the same table, row size and indexes), one commit
- POST /scratch   one plain INSERT into a three-column scratch table, one commit (the
                  floor this bench used until 2026-12-04, still shown for comparison)
- GET  /select    25 rows of the cases table, newest first, as the inbox reads them (the
                  member set for row-level security, the same ORDER BY and index)
- GET  /template  a plain 5 KB Jinja page, no database
"""

import hashlib
import itertools
import json
import os
import secrets
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, render_template

engine = sa.create_engine(os.environ["FLOOR_DATABASE_URL"])
TENANT_ID = int(os.environ.get("FLOOR_TENANT_ID", "1"))
# The case rows go to another member than the inbox floor reads (run.py chooses it).
WRITE_TENANT_ID = int(os.environ.get("FLOOR_WRITE_TENANT_ID", "1"))
DEFINITION_ID = int(os.environ.get("FLOOR_DEFINITION_ID", "1"))
SERVICE = os.environ.get("FLOOR_SERVICE", "synpunkter")
# Our submissions' answers in turn, as stored JSON (run.py: the bench's own drafts).
ANSWERS = itertools.cycle(
    json.dumps(a) for a in json.loads(os.environ.get("FLOOR_ANSWERS", "[{}]"))
)
INSERT_CASE = sa.text(
    "INSERT INTO cases (tenant_id, year, number, reference, service_slug, definition_id,"
    " answers, status, channel, status_token, idempotency_key, request_fingerprint,"
    " submitted_at, updated_at)"
    " SELECT :tenant, :year, n, 'FLOOR-' || n, :service, :definition, :answers,"
    " 'received', 'web', :token, :key, :fingerprint, :at, :at"
    " FROM nextval('bench_floor_case_numbers') AS n"
)
app = Flask(__name__)


@app.post("/insert")
def insert():
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            sa.text("SELECT set_config('app.tenant_id', :tenant, true)"),
            {"tenant": str(WRITE_TENANT_ID)},
        )
        connection.execute(
            INSERT_CASE,
            {
                "tenant": WRITE_TENANT_ID,
                "year": now.year,
                "service": SERVICE,
                "definition": DEFINITION_ID,
                "answers": next(ANSWERS),
                "token": token,
                "key": f"floor:{uuid.uuid4()}",
                "fingerprint": hashlib.sha256(token.encode()).hexdigest(),
                "at": now,
            },
        )
    return "", 201


@app.post("/scratch")
def scratch():
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO bench_floor_writes (tenant_id, payload, created_at) "
                "VALUES (:tenant, :payload, :at)"
            ),
            {"tenant": TENANT_ID, "payload": '{"message": "Hej"}', "at": datetime.now(UTC)},
        )
    return "", 201


@app.get("/select")
def select():
    with engine.begin() as connection:
        connection.execute(
            sa.text("SELECT set_config('app.tenant_id', :tenant, true)"),
            {"tenant": str(TENANT_ID)},
        )
        rows = connection.execute(
            sa.text(
                "SELECT id, reference, service_slug, status, submitted_at, assigned_to_id "
                "FROM cases WHERE tenant_id = :tenant "
                "ORDER BY submitted_at DESC, id DESC LIMIT 26"
            ),
            {"tenant": TENANT_ID},
        ).all()
    return "\n".join(f"{r.reference};{r.status};{r.submitted_at.isoformat()}" for r in rows[:25])


@app.get("/template")
def template():
    return render_template(
        "floor.html",
        title="Ärenden",
        rows=34,
        ref="KIL",
        status="Mottaget",
        when="23 november 2026 kl. 14.05",
    )
