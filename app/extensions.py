"""Extensions, created unbound and bound in create_app()."""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from app.apispec import Api
from app.db import Base


def client_ip() -> str:
    """The client address as the proxy in front of us reports it (ProxyFix sets remote_addr)."""
    return request.remote_addr or "unknown"


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
api = Api()
limiter = Limiter(key_func=client_ip)
csrf = CSRFProtect()
