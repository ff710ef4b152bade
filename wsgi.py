"""What gunicorn and `flask --app wsgi` serve."""

from samverkan import create_app

app = create_app()
