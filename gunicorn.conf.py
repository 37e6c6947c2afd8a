"""gunicorn settings; every value can be overridden from the environment."""

import os

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# The app is imported once in the master, then forked: faster start and shared memory.
preload_app = True
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
errorlog = "-"


def when_ready(server):
    """In the master, before the workers fork: load the nearby-services index and every shop
    plate's public view once, so every worker starts with them in memory it shares with the
    master (copy-on-write) instead of building them while it serves."""
    import gc

    from app.extensions import db
    from services_nearby.nearest import warm as warm_nearby
    from shops.lookup import warm as warm_shops
    from wsgi import app

    for name, warm in (("nearby index", warm_nearby), ("shop views", warm_shops)):
        try:
            warm(app)
        except Exception:  # noqa: BLE001 - workers build it lazily on their first request instead
            server.log.exception("%s preload failed", name)
    with app.app_context():
        db.engine.dispose()  # no database connection crosses the fork
    gc.collect()
    gc.freeze()
