"""`flask --app wsgi outbox run`: deliver queued e-mail."""

from flask import Flask


def register(app: Flask) -> None:
    """Add the outbox commands to the app's CLI."""
