"""The floor: a bare Flask app doing the same database work as ours, with nothing else.

Served by the same gunicorn settings (config/gunicorn.conf.py) as the app, as the same
database role, so the ratio ours/floor is what the framework, the checks and the pages cost
on top of the database work. Three endpoints:

- POST /insert    one plain INSERT into a scratch table, one commit
- GET  /select    25 rows of the cases table, newest first, as the inbox reads them (the
                  member set for row-level security, the same ORDER BY and index)
- GET  /template  a plain 5 KB Jinja page, no database
"""

import os
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, render_template

engine = sa.create_engine(os.environ["FLOOR_DATABASE_URL"])
TENANT_ID = int(os.environ.get("FLOOR_TENANT_ID", "1"))
app = Flask(__name__)


@app.post("/insert")
def insert():
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
