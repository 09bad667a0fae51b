"""gunicorn settings: `gunicorn -c config/gunicorn.py config.wsgi:application` (make run, production).

Every value is an environment variable. Defaults suit `make run`: one process with threads, because the
embedded in-memory broker and its worker threads live in the serving process. With Redis as the broker
(production), raise GUNICORN_WORKERS to about one per core.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "1"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))  # a 20 MB upload on a slow link
graceful_timeout = 30
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))  # recycle workers (0: never)
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
# 0: gunicorn 27's own cap of 1 MB instead of 8,190 bytes. Longer request lines got gunicorn's HTML 414, which
# no operation documents (Schemathesis: a /users/search?q= over its maxLength in 4-byte characters); now
# Django sees them and answers 400 in the error shape. A proxy in front keeps its own, smaller limit.
limit_request_line = 0
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
