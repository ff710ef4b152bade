"""Flask extensions, created unbound and attached in create_app()."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from samverkan.db import Base

db = SQLAlchemy(model_class=Base)
# Batch mode lets later revisions alter SQLite tables (it cannot ALTER most things).
migrate = Migrate(render_as_batch=True, compare_type=True)
csrf = CSRFProtect()
