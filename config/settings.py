"""Shutter settings: one env-driven module (django-environ).

Every knob is an environment variable with a safe local default; production
secrets have none. See README.md, "Configuration" (every variable is in its table).
"""

import os
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)  # first: every variable below may come from it
VAR_DIR = Path(env.str("SHUTTER_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-secret-key-do-not-use-in-production")
else:
    SECRET_KEY = env.str("SECRET_KEY")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # The dashboard first: its templates override admin_tools_stats's, whose override the admin's index.
    "apps.analytics.dashboard",
    "admin_tools_stats",  # django-admin-charts: charts on the admin index (before the admin, as it asks)
    "django_nvd3",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "oauth2_provider",
    "social_django",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_dramatiq",
    "dramatiq_crontab",  # `manage.py crontab`, the scheduler (its heartbeat actor joins the workers)
    "axes",
    "push_notifications",
    "apps.common",
    "apps.accounts",
    "apps.social",
    "apps.posts",
    "apps.dispense",
    "apps.ranking",
    "apps.notifications",
    "apps.analytics",
    "apps.bots",
]

# Sessions, Django's user and messages are the stock classes, skipped on /api/
# (apps/common/middleware.py): bearer-token JSON requests never use them; the admin and /o/ keep them all.
# (X-Frame-Options stays stock everywhere: check --deploy looks for that exact class.)
MIDDLEWARE = [
    "apps.common.middleware.RequestIDMiddleware",
    # Times /api/ requests and hands a record to the background: inside the request id, outside the error shaping.
    "apps.analytics.middleware.RequestLogMiddleware",
    "apps.common.middleware.JSONErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.common.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "apps.common.middleware.AuthenticationMiddleware",
    "apps.common.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.common.idempotency.IdempotencyMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: turns an admin lockout into a 429
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# SQLite under var/ by default (nothing to install); PostgreSQL with DATABASE_URL.
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'shutter.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the single writer; IMMEDIATE transactions plus a
    # busy timeout make a second writer wait instead of failing "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": env.int("SQLITE_BUSY_TIMEOUT_SECONDS", default=20),
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file (not :memory:) so threads in tests share it; one per process so parallel runs never collide.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
# Connections are kept between requests and between worker messages (django_dramatiq closes old
# ones around each message): reconnecting per fan-out batch cost more than the batch's bookkeeping.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://shutter")}

# --- Passwords ------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "name", "email")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Third-party OAuth clients (/o/authorize/) send people here to log in first.
LOGIN_URL = "/admin/login/"

AUTHENTICATION_BACKENDS = [
    "apps.accounts.backends.AdminLoginLockoutBackend",  # first: refuses a locked-out admin login
    "apps.accounts.backends.EmailOrUsernameBackend",
    "social_core.backends.facebook.FacebookOAuth2",
    "apps.analytics.dashboard.backends.StaffSeeChartsBackend",  # staff may view the dashboard's charts
]

# Admin login brute force (django-axes): after ADMIN_LOGIN_FAILURE_LIMIT wrong passwords from one IP,
# or for one account, that IP or account gets 429 for ADMIN_LOGIN_COOLOFF_MINUTES. Every failure is
# logged (logger "axes", and the admin's "Access failures"). The API's login has its own throttles.
AXES_ONLY_ADMIN_SITE = True
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("ADMIN_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # each on its own: per IP, and per account
AXES_USERNAME_FORM_FIELD = "username"  # the admin form's field (the default would be USERNAME_FIELD, "email")
AXES_USERNAME_CALLABLE = "apps.accounts.backends.lockout_username"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_HTTP_RESPONSE_CODE = 429

# --- I18N, static, media -------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# WhiteNoise serves the admin's and Swagger UI's files without DEBUG and without a CDN;
# with finders on, collectstatic is optional (run it for compressed files in production).
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request without it
# Our own static files: the dashboard's vendored D3 and NVD3 (static/vendor/README.md).
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
STORAGES = {
    # Local disk by default; S3 is configuration only (see docs/deployment.md, "Media storage").
    "default": {
        "BACKEND": env.str("MEDIA_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage")
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Django serves uploaded media only when asked (make run, make dev, one machine); in production a proxy
# (nginx's alias on MEDIA_ROOT) or object storage with a CDN serves it, far cheaper than a Python thread.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=DEBUG)

# Uploads: requests may carry a 20 MB photo; Django spools large files to disk.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
# JSON bodies are small and flat: larger is 413, deeper is 400 (apps/common/parsers.py).
JSON_MAX_BODY_BYTES = env.int("JSON_MAX_BODY_BYTES", default=256 * 1024)
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=32)
IMAGE_MAX_BYTES = env.int("IMAGE_MAX_BYTES", default=20 * 1024 * 1024)
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", default=40_000_000)
PROFILE_PICTURE_SIZE = env.int("PROFILE_PICTURE_SIZE", default=640)
PROFILE_THUMBNAIL_SIZE = env.int("PROFILE_THUMBNAIL_SIZE", default=150)

# Proxies in front that append to X-Forwarded-For; 0: the client's address is REMOTE_ADDR, and a
# client-sent X-Forwarded-For is ignored (else a brute-forcer could pick a new "IP" per attempt).
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
AXES_IPWARE_PROXY_COUNT = NUM_PROXIES or None
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if NUM_PROXIES else ["REMOTE_ADDR"]

# --- REST framework ---------------------------------------------------------------
API_PAGE_SIZE = 30
API_MAX_PAGE_SIZE = 100
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.accounts.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["apps.common.renderers.FastJSONRenderer"],  # DRF's bytes, orjson's speed
    # JSON only; the two uploads (POST /posts, PUT /users/me/picture) set multipart on their views.
    "DEFAULT_PARSER_CLASSES": ["apps.common.parsers.JSONParser"],  # DRF's, with size and depth capped
    # No ?format= override: the API speaks JSON only, and DRF answered an unknown ?format=x with 404
    # on any endpoint (Schemathesis found it on /users/search); the schema view negotiates by Accept.
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_PAGINATION_CLASS": "apps.common.pagination.CursorPagination",
    "PAGE_SIZE": API_PAGE_SIZE,
    "EXCEPTION_HANDLER": "apps.common.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apps.common.schema.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["apps.common.throttling.PerUserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("THROTTLE_USER", default="1200/minute"),
        "signup": env.str("THROTTLE_SIGNUP", default="20/hour"),
        "login": env.str("THROTTLE_LOGIN", default="30/minute"),
        "refresh": env.str("THROTTLE_REFRESH", default="60/minute"),
        # Requests carrying a BOT_CLIENT_IDS client's credentials (apps/common/throttling.py), counted per client.
        "bot_signup": env.str("THROTTLE_BOT_SIGNUP", default="3000/minute"),
        "bot_login": env.str("THROTTLE_BOT_LOGIN", default="3000/minute"),
        "bot_refresh": env.str("THROTTLE_BOT_REFRESH", default="3000/minute"),
        "bot_user": env.str("THROTTLE_BOT_USER", default="20000/minute"),
    },
    "NUM_PROXIES": NUM_PROXIES,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Shutter API",
    "DESCRIPTION": "The REST contract between Shutter and its mobile apps.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],  # the schema and docs are public: no token work for them
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
}

# --- OAuth 2 (django-oauth-toolkit) ---------------------------------------------
ACCESS_TOKEN_LIFETIME_SECONDS = env.int("ACCESS_TOKEN_LIFETIME_SECONDS", default=3600)
REFRESH_TOKEN_LIFETIME_SECONDS = env.int("REFRESH_TOKEN_LIFETIME_SECONDS", default=30 * 24 * 3600)
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER_DEVICE_GRANT_MODEL = "oauth2_provider.DeviceGrant"
MOBILE_CLIENT_ID = env.str("MOBILE_CLIENT_ID", default="shutter-mobile")
# Confidential OAuth clients (`manage.py bot_client`) whose credentials, sent with HTTP Basic on signup, login
# and refresh, get the THROTTLE_BOT_* limits per client instead of the per-IP ones. Empty: no bots.
BOT_CLIENT_IDS = env.list("BOT_CLIENT_IDS", default=[])
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": ACCESS_TOKEN_LIFETIME_SECONDS,
    "REFRESH_TOKEN_EXPIRE_SECONDS": REFRESH_TOKEN_LIFETIME_SECONDS,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "SCOPES": {"read": "Read your data", "write": "Change your data"},
    "DEFAULT_SCOPES": ["read", "write"],
    "PKCE_REQUIRED": True,
    # Third-party clients of /o/ must redirect over https (RFC 9700 §2.1).
    "ALLOWED_REDIRECT_URI_SCHEMES": env.list("OAUTH_REDIRECT_URI_SCHEMES", default=["https"]),
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}

# --- Facebook (social-auth-app-django) -------------------------------------------
SOCIAL_AUTH_JSONFIELD_ENABLED = True
SOCIAL_AUTH_FACEBOOK_KEY = env.str("FACEBOOK_APP_ID", default="")
SOCIAL_AUTH_FACEBOOK_SECRET = env.str("FACEBOOK_APP_SECRET", default="")
SOCIAL_AUTH_FACEBOOK_API_VERSION = env.str("FACEBOOK_API_VERSION", default="24.0")
SOCIAL_AUTH_FACEBOOK_PROFILE_EXTRA_PARAMS = {"fields": "id,name,email,picture.width(640).height(640)"}
SOCIAL_AUTH_FACEBOOK_SCOPE = ["email", "public_profile"]
SOCIAL_AUTH_REQUESTS_TIMEOUT = env.float("FACEBOOK_TIMEOUT_SECONDS", default=5.0)
SOCIAL_AUTH_USER_MODEL = AUTH_USER_MODEL
SOCIAL_AUTH_PIPELINE = (
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    "social_core.pipeline.social_auth.social_user",
    "apps.accounts.facebook.create_user",
    "social_core.pipeline.social_auth.associate_user",
    "social_core.pipeline.social_auth.load_extra_data",
)

# --- Security (production: DEBUG off behind TLS) ---------------------------------
# Trust X-Forwarded-Proto only when a TLS-terminating proxy that sets it is in front (TLS_PROXY=1):
# otherwise any client could claim https.
if env.bool("TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Off by default (TLS usually ends at the proxy); production sets it, see docs/deployment.md.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^health/?$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"axes_without_request": {"()": "apps.common.logging.AxesWithoutRequestFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # The API's login authenticates without a request (axes guards the admin's): no ERROR for each.
        "axes.handlers.proxy": {"filters": ["axes_without_request"]},
        "axes.handlers.database": {"filters": ["axes_without_request"]},
    },
}

# Last-active time is written at most once per this many seconds per user.
LAST_ACTIVE_WRITE_INTERVAL_SECONDS = env.int("LAST_ACTIVE_WRITE_INTERVAL_SECONDS", default=60)
IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 3600
IDEMPOTENCY_ABANDONED_SECONDS = env.int("IDEMPOTENCY_ABANDONED_SECONDS", default=300)

# --- Background work (Dramatiq) --------------------------------------------------------
# DRAMATIQ_BROKER_URL=redis://... selects Redis (workers: manage.py rundramatiq). Without it
# the embedded default: an in-process StubBroker whose worker threads `make run` starts
# beside the web server (apps/dispense/embedded.py), so one machine needs nothing installed.
DRAMATIQ_BROKER_URL = env.str("DRAMATIQ_BROKER_URL", default="")
DRAMATIQ_EMBEDDED = not DRAMATIQ_BROKER_URL
# With no broker, the serving process itself runs the worker threads and the scheduler when this is on
# (config/wsgi.py starts them; make run sets it). One serving process only: the in-memory broker is per
# process. `check --deploy` fails with DEBUG off, no broker and this off: no job would ever run.
EMBEDDED_WORKER = env.bool("EMBEDDED_WORKER", default=False)
DRAMATIQ_MAX_RETRIES = env.int("DRAMATIQ_MAX_RETRIES", default=8)
DRAMATIQ_MIN_BACKOFF_MS = env.int("DRAMATIQ_MIN_BACKOFF_MS", default=1_000)
DRAMATIQ_MAX_BACKOFF_MS = env.int("DRAMATIQ_MAX_BACKOFF_MS", default=300_000)
DRAMATIQ_BROKER = {
    "BROKER": "dramatiq.brokers.stub.StubBroker" if DRAMATIQ_EMBEDDED else "dramatiq.brokers.redis.RedisBroker",
    "OPTIONS": {}
    if DRAMATIQ_EMBEDDED
    else {
        "url": DRAMATIQ_BROKER_URL,
        # How long a dead worker's unacknowledged messages wait before another worker takes them.
        "heartbeat_timeout": env.int("DRAMATIQ_HEARTBEAT_TIMEOUT_MS", default=60_000),
        # Per million broker commands, how many also requeue the messages of dead workers.
        "maintenance_chance": env.int("DRAMATIQ_REDIS_MAINTENANCE_CHANCE", default=1_000),
    },
    "MIDDLEWARE": [
        "dramatiq.middleware.AgeLimit",
        "dramatiq.middleware.TimeLimit",
        "dramatiq.middleware.Callbacks",
        "dramatiq.middleware.Retries",
        "django_dramatiq.middleware.DbConnectionsMiddleware",
        "apps.common.scheduling.ScheduledRunsMiddleware",  # the cron actors' last runs (the dashboard)
    ],
}
DRAMATIQ_TASKS_DATABASE = "default"
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]
# SQLite has one writer: more embedded worker threads only wait on its lock (bench/fanout.py: fan-out
# ratio 0.54 with one thread, 0.38 with four). PostgreSQL gains from several.
DRAMATIQ_EMBEDDED_THREADS = env.int(
    "DRAMATIQ_EMBEDDED_THREADS", default=1 if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else 4
)
DRAMATIQ_CRONTAB = {"REDIS_URL": DRAMATIQ_BROKER_URL or None}

# --- Dispense: home feeds ----------------------------------------------------------------
FEED_STORE = env.str("FEED_STORE", default="sql")  # "sql" or "cassandra" (needs CASSANDRA_HOSTS)
# Followers per fan-out batch (one message each). Each batch pays a fixed cost (its claim, its progress row,
# the worker's message handling) that SQLite's fast single-writer inserts feel most: bench/fanout.py measured
# actor/raw-insert ratios of 0.5-0.6 at 1,000 and 0.68-0.78 at 5,000 on SQLite; PostgreSQL meets the goal
# at 1,000 with batches of several threads side by side.
DISPENSE_BATCH_SIZE = env.int(
    "DISPENSE_BATCH_SIZE", default=5000 if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else 1000
)
DISPENSE_FEED_CAP = env.int("DISPENSE_FEED_CAP", default=800)
DISPENSE_FOLLOW_BACKFILL = env.int("DISPENSE_FOLLOW_BACKFILL", default=100)
# A job or batch with no progress for this long counts as stuck and is re-sent by the sweeper.
DISPENSE_STUCK_AFTER_SECONDS = env.int("DISPENSE_STUCK_AFTER_SECONDS", default=600)
# Optional pause inside each batch, between writing the feeds and recording progress (throttle).
DISPENSE_BATCH_PAUSE_SECONDS = env.float("DISPENSE_BATCH_PAUSE_SECONDS", default=0.0)
DISPENSE_KEEP_DONE_DAYS = env.int("DISPENSE_KEEP_DONE_DAYS", default=7)
# The hybrid feed: an author with this many followers is a celebrity, whose posts are merged into their
# followers' feeds at read time instead of fanned out (docs/dispense.md, "The hybrid feed"). 100,000: a fan-out that
# size takes about 0.2-0.4 s of database time (bench/fanout.py), and a merge costs every follower's read.
DISPENSE_CELEBRITY_FOLLOWERS = env.int("DISPENSE_CELEBRITY_FOLLOWERS", default=100_000)
# ... and stops being one below this (lower, so an author at the threshold does not flap: each exit
# fans their recent posts out again, DISPENSE_FOLLOW_BACKFILL of them to every follower).
DISPENSE_CELEBRITY_EXIT_FOLLOWERS = env.int(
    "DISPENSE_CELEBRITY_EXIT_FOLLOWERS", default=DISPENSE_CELEBRITY_FOLLOWERS * 9 // 10
)
# How long a reader's list of followed celebrities is cached (their own follows and unfollows clear it).
DISPENSE_CELEBRITY_CACHE_SECONDS = env.int("DISPENSE_CELEBRITY_CACHE_SECONDS", default=60)

# --- Ranking: top users per week, top posts per day ----------------------------------------
RANKING_KEEP = env.int("RANKING_KEEP", default=1000)  # entries kept per scope (cell, country, world)
RANKING_SHOWN = env.int("RANKING_SHOWN", default=30)  # entries per list in GET /top/users and /top/posts
# A run's claim on its period older than this belongs to a dead process and may be taken over.
RANKING_STALE_AFTER_SECONDS = env.int("RANKING_STALE_AFTER_SECONDS", default=3600)

# --- The dashboard (django-admin-charts) ---------------------------------------------------
# D3 and NVD3 served from here, never a CDN: many admins' networks (and CI) cannot reach one.
ADMIN_CHARTS_D3_JS_PATH = "vendor/d3-3.3.13/d3.min.js"
ADMIN_CHARTS_NVD3_JS_PATH = "vendor/nvd3-1.8.6/nv.d3.min.js"
ADMIN_CHARTS_NVD3_CSS_PATH = "vendor/nvd3-1.8.6/nv.d3.min.css"
ADMIN_CHARTS_TIMEZONE = "UTC"

# --- Analytics: request logs, error logs, counters (apps/analytics, README "Analytics") ---------------
# Off: the middleware records nothing and domain events are not counted (bench/api_load.py --compare-analytics).
ANALYTICS_ENABLED = env.bool("ANALYTICS_ENABLED", default=True)
# Records leave the serving process as one message per batch: at this many, or after this many seconds.
ANALYTICS_BATCH_SIZE = env.int("ANALYTICS_BATCH_SIZE", default=500)
ANALYTICS_FLUSH_SECONDS = env.float("ANALYTICS_FLUSH_SECONDS", default=1.0)
# Records held when the broker cannot take them; beyond this they are dropped (and counted), never queued up.
ANALYTICS_BUFFER_MAX = env.int("ANALYTICS_BUFFER_MAX", default=50_000)
# Request and error logs are kept this many days (prune_logs deletes older ones daily; Cassandra's TTL).
ANALYTICS_LOG_RETENTION_DAYS = env.int("ANALYTICS_LOG_RETENTION_DAYS", default=30)
LOGS_STORE = env.str("LOGS_STORE", default="sql")  # "sql" or "cassandra" (needs CASSANDRA_HOSTS)

# --- Notifications and push ------------------------------------------------------------
NOTIFICATIONS_KEEP_DAYS = env.int("NOTIFICATIONS_KEEP_DAYS", default=90)  # the inbox is pruned daily past this
# At most one push per recipient per post (and kind) in this many seconds; the rest are counted into it.
PUSH_COALESCE_SECONDS = env.int("PUSH_COALESCE_SECONDS", default=60)
PUSH_MAX_RETRIES = env.int("PUSH_MAX_RETRIES", default=5)
PUSH_MIN_BACKOFF_MS = env.int("PUSH_MIN_BACKOFF_MS", default=2_000)
PUSH_MAX_BACKOFF_MS = env.int("PUSH_MAX_BACKOFF_MS", default=120_000)
# APNs with token auth (a .p8 key) through aioapns; FCM through firebase-admin's HTTP v1 API with a service
# account file. Neither set: push is off (logged once), the inbox works the same.
APNS_AUTH_KEY_PATH = env.str("APNS_AUTH_KEY_PATH", default="")
APNS_KEY_ID = env.str("APNS_KEY_ID", default="")
APNS_TEAM_ID = env.str("APNS_TEAM_ID", default="")
APNS_TOPIC = env.str("APNS_TOPIC", default="")  # the app's bundle id
APNS_USE_SANDBOX = env.bool("APNS_USE_SANDBOX", default=DEBUG)
FCM_CREDENTIALS_FILE = env.str("FCM_CREDENTIALS_FILE", default="")
PUSH_NOTIFICATIONS_SETTINGS = {
    "UNIQUE_REG_ID": True,  # a registration id belongs to one user: registering it again re-assigns it
    "APNS_USE_SANDBOX": APNS_USE_SANDBOX,
    "FCM_MAX_RECIPIENTS": 500,  # firebase-admin's send_each takes at most 500 messages
}
if APNS_AUTH_KEY_PATH and APNS_KEY_ID and APNS_TEAM_ID and APNS_TOPIC:
    # Only when complete: the library takes the mere presence of a key path for token credentials.
    PUSH_NOTIFICATIONS_SETTINGS.update(
        APNS_AUTH_KEY_PATH=APNS_AUTH_KEY_PATH, APNS_AUTH_KEY_ID=APNS_KEY_ID, APNS_TEAM_ID=APNS_TEAM_ID,
        APNS_TOPIC=APNS_TOPIC,
    )

# --- Cassandra (optional: feeds when one database server is no longer enough) ----------
# Unset CASSANDRA_HOSTS means no Cassandra at all: no app, no alias, nothing connects.
CASSANDRA_HOSTS = env.list("CASSANDRA_HOSTS", default=[])
CASSANDRA_PORT = env.int("CASSANDRA_PORT", default=9042)
CASSANDRA_FEEDS_KEYSPACE = env.str("CASSANDRA_FEEDS_KEYSPACE", default="shutter_feeds")
CASSANDRA_LOGS_KEYSPACE = env.str("CASSANDRA_LOGS_KEYSPACE", default="shutter_logs")
# SimpleStrategy with a factor for one data centre; NetworkTopologyStrategy with per-DC factors
# (CASSANDRA_DC_REPLICATION="dc1=3,dc2=3") for clusters.
CASSANDRA_REPLICATION_STRATEGY = env.str("CASSANDRA_REPLICATION_STRATEGY", default="SimpleStrategy")
CASSANDRA_REPLICATION_FACTOR = env.int("CASSANDRA_REPLICATION_FACTOR", default=1)
# (Parsed as a plain dict, comma-separated, then cast: env.dict with a value cast wants ";" between pairs.)
CASSANDRA_DC_REPLICATION = {dc: int(n) for dc, n in env.dict("CASSANDRA_DC_REPLICATION", default={}).items()}
# ONE for a single local node; LOCAL_QUORUM on a cluster (with a replication factor of 3).
CASSANDRA_CONSISTENCY = env.str("CASSANDRA_CONSISTENCY", default="ONE")
CASSANDRA_WRITE_CONCURRENCY = env.int("CASSANDRA_WRITE_CONCURRENCY", default=64)
CASSANDRA_TIMEOUT_SECONDS = env.float("CASSANDRA_TIMEOUT_SECONDS", default=10.0)
if CASSANDRA_HOSTS:
    from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

    # First: its migrate/flush know the Cassandra alias (migrate --database cassandra = sync_cassandra).
    INSTALLED_APPS.insert(0, "django_cassandra_engine")
    _replication = (
        {"strategy_class": "SimpleStrategy", "replication_factor": CASSANDRA_REPLICATION_FACTOR}
        if CASSANDRA_REPLICATION_STRATEGY == "SimpleStrategy"
        else {"strategy_class": CASSANDRA_REPLICATION_STRATEGY, **CASSANDRA_DC_REPLICATION}
    )

    def _cassandra_alias(keyspace: str) -> dict:
        """A django-cassandra-engine alias for one keyspace (each gets its own driver policy objects)."""
        return {
            "ENGINE": "django_cassandra_engine",
            "NAME": keyspace,
            "HOST": ",".join(CASSANDRA_HOSTS),
            "USER": env.str("CASSANDRA_USER", default=""),
            "PASSWORD": env.str("CASSANDRA_PASSWORD", default=""),
            "OPTIONS": {
                "replication": dict(_replication),
                "connection": {
                    "port": CASSANDRA_PORT,
                    "lazy_connect": True,  # nothing connects until a feed (or log) is read or written
                    "retry_connect": True,
                    "load_balancing_policy": TokenAwarePolicy(
                        DCAwareRoundRobinPolicy(local_dc=env.str("CASSANDRA_LOCAL_DC", default="datacenter1"))
                    ),
                },
                "session": {"default_timeout": CASSANDRA_TIMEOUT_SECONDS},
            },
        }

    # One keyspace per concern, as the original's multi-keyspace database: feeds in one, logs in another.
    DATABASES["cassandra"] = _cassandra_alias(CASSANDRA_FEEDS_KEYSPACE)
    DATABASES["cassandra_logs"] = _cassandra_alias(CASSANDRA_LOGS_KEYSPACE)  # LOGS_STORE=cassandra
    DATABASE_ROUTERS = ["apps.dispense.routers.CassandraRouter"]
