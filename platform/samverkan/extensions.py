"""Flask extensions, created unbound and attached in create_app()."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from samverkan.db import Base

db = SQLAlchemy(model_class=Base)
# Batch mode lets later revisions alter SQLite tables (it cannot ALTER most things).
migrate = Migrate(render_as_batch=True, compare_type=True)
csrf = CSRFProtect()
login_manager = LoginManager()
# In memory by default; RATELIMIT_STORAGE_URI (e.g. redis://…) shares counts between workers.
limiter = Limiter(key_func=get_remote_address)
