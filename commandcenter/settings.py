"""Settings for the command center, read from the environment (see README "Settings")."""

from __future__ import annotations

import os
import secrets
import zoneinfo
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from commandcenter import embedded
from commandcenter.env import (
    check_redis_url,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    parse_database_url,
)
from core.roles import ROLES

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CC_VAR_DIR") or BASE_DIR / "var").resolve()

# --- services: external when the URLs are set, embedded otherwise -------------------------
if env_bool("CC_EMBEDDED", True):
    embedded.ensure_services()
DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
if not DATABASE_URL or not REDIS_URL:
    raise ImproperlyConfigured("DATABASE_URL and REDIS_URL must be set when CC_EMBEDDED=0")
DATABASES = {"default": parse_database_url(DATABASE_URL)}
REDIS_URL = check_redis_url(REDIS_URL)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in var/."""
    configured = env_str("SECRET_KEY")
    if configured:
        if len(configured) < 32:
            raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long")
        return configured
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "commandcenter",
    "core",
    "accounts",
    "venues",
    "watchlists",
    "alerts",
    "audit",
    "retention",
    "oversight",
    "workers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "audit.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "commandcenter.urls"
ASGI_APPLICATION = "commandcenter.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# --- time zone and languages -----------------------------------------------------------------
TIME_ZONE = env_str("TIME_ZONE", "Asia/Almaty")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE {TIME_ZONE!r} is not a known IANA time zone") from None
USE_TZ = True
USE_I18N = True
LANGUAGES = [("en", _("English")), ("ru", _("Russian")), ("kk", _("Kazakh"))]
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en")
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured(f"LANGUAGE_CODE must be one of en, ru, kk, got {LANGUAGE_CODE!r}")
LOCALE_PATHS = [BASE_DIR / "locale"]

# --- files: evidence and face images are private, served only through audited views ---------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media").resolve()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
CC_MAX_UPLOAD_BYTES = env_int("CC_MAX_UPLOAD_BYTES", 15 * 1024 * 1024, minimum=1024)
CC_MAX_IMAGE_PIXELS = env_int("CC_MAX_IMAGE_PIXELS", 40_000_000, minimum=10_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = CC_MAX_UPLOAD_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- models and sample data -------------------------------------------------------------------
DEEPFACE_HOME = Path(env_str("DEEPFACE_HOME") or VAR_DIR / "deepface").resolve()
os.environ["DEEPFACE_HOME"] = str(DEEPFACE_HOME)
CC_FACE_MODEL = env_str("CC_FACE_MODEL", "Dlib-onnx")
CC_FACE_DETECTOR = env_str("CC_FACE_DETECTOR", "dlib-hog")  # enrolment and photo checks: frontal, sharp
CC_FACE_MIN_PX = env_int("CC_FACE_MIN_PX", 32, minimum=16, maximum=400)  # smaller enrolment faces are refused
# cameras (per-camera override in Camera.face_detector): dlib-hog-fast ~20 ms per 640x360 frame (4 cameras at
# 5 fps use ~26% of a 2-core machine); mtcnn ~46 ms but also finds profiles and small faces
CC_STREAM_FACE_DETECTOR = env_str("CC_STREAM_FACE_DETECTOR", "dlib-hog-fast")
CC_FACE_THRESHOLD_FLOOR = env_float("CC_FACE_THRESHOLD_FLOOR", 0.90, minimum=0.0, maximum=1.0)
CC_FACE_DEFAULT_THRESHOLD = env_float("CC_FACE_DEFAULT_THRESHOLD", 0.94, minimum=0.0, maximum=1.0)
if CC_FACE_DEFAULT_THRESHOLD < CC_FACE_THRESHOLD_FLOOR:
    raise ImproperlyConfigured("CC_FACE_DEFAULT_THRESHOLD must not be below CC_FACE_THRESHOLD_FLOOR")
# sightings of one subject (any camera) within this many seconds of the last fold into one open alert
CC_FACE_FOLD_WINDOW_S = env_int("CC_FACE_FOLD_WINDOW_S", 600, minimum=0, maximum=86_400)
CC_SAMPLE_DATA = env_str("CC_SAMPLE_DATA") or str(BASE_DIR.parent / "shared" / "data")
CC_OPENCV_DOC = env_str("CC_OPENCV_DOC") or "/usr/share/doc/opencv-doc"  # demo footage without CC_SAMPLE_DATA

# --- Redis: cache, channel layer, Celery broker ----------------------------------------------
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
# "pubsub": one Redis PUBLISH per group message (fan-out to hundreds of dashboards);
# "core": per-channel lists (delivery to each socket's list, survives a brief web restart).
CC_CHANNEL_LAYER = env_str("CC_CHANNEL_LAYER", "pubsub")
if CC_CHANNEL_LAYER not in {"pubsub", "core"}:
    raise ImproperlyConfigured(f"CC_CHANNEL_LAYER must be pubsub or core, got {CC_CHANNEL_LAYER!r}")
CHANNEL_LAYERS = {
    "default": (
        {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
        if CC_CHANNEL_LAYER == "pubsub"
        else {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 1500, "expiry": 30},
        }
    )
}
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "workers.tasks.*": {"queue": "streams"},
    "alerts.tasks.dispatch_*": {"queue": "dispatch"},
    "watchlists.tasks.*": {"queue": "faces"},
}
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 600, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 5
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CC_BROKER_VISIBILITY_TIMEOUT", 3600, minimum=60)}
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# --- stream workers: camera sessions on the `streams` queue (see workers/session.py) -----------
CC_STREAM_QUEUE = env_str("CC_STREAM_QUEUE", "streams")
CC_LEASE_TTL_S = env_float("CC_LEASE_TTL_S", 7.0, minimum=2.0, maximum=300.0)
CC_HEARTBEAT_S = env_float("CC_HEARTBEAT_S", 2.0, minimum=0.2, maximum=100.0)
if CC_HEARTBEAT_S * 2 >= CC_LEASE_TTL_S:
    raise ImproperlyConfigured("CC_LEASE_TTL_S must be more than twice CC_HEARTBEAT_S")
CC_ASSIGN_INTERVAL_S = env_float("CC_ASSIGN_INTERVAL_S", 3.0, minimum=0.5, maximum=60.0)
CC_START_CLAIM_S = env_float("CC_START_CLAIM_S", 15.0, minimum=2.0, maximum=600.0)
CC_SESSION_MAX_S = env_int("CC_SESSION_MAX_S", 3600, minimum=30)
CC_HEALTH_PERSIST_S = env_float("CC_HEALTH_PERSIST_S", 10.0, minimum=1.0, maximum=600.0)
CC_DETECT_MAX_SIDE = env_int("CC_DETECT_MAX_SIDE", 960, minimum=160, maximum=4096)
CC_EMBED_MIN_QUALITY = env_float("CC_EMBED_MIN_QUALITY", 0.35, minimum=0.0, maximum=1.0)
CC_PEOPLE_INTERVAL_S = env_float("CC_PEOPLE_INTERVAL_S", 1.0, minimum=0.1, maximum=60.0)
# the person stage (MoveNet MultiPose, tracked people): calls per second per camera (0: off), input side, score floor
CC_PERSON_FPS = env_float("CC_PERSON_FPS", 2.0, minimum=0.0, maximum=15.0)
CC_PERSON_INPUT_SIZE = env_int("CC_PERSON_INPUT_SIZE", 384, minimum=128, maximum=1024)
if CC_PERSON_INPUT_SIZE % 32:
    raise ImproperlyConfigured(f"CC_PERSON_INPUT_SIZE must be a multiple of 32, not {CC_PERSON_INPUT_SIZE}")
# people from this MoveNet score are tracked and given to the fight scorer; counted from the second
CC_PERSON_MIN_SCORE = env_float("CC_PERSON_MIN_SCORE", 0.1, minimum=0.05, maximum=0.95)
CC_PERSON_COUNT_MIN_SCORE = env_float("CC_PERSON_COUNT_MIN_SCORE", 0.2, minimum=0.05, maximum=0.95)
# the fight/aggression model file: empty = the shipped vision/incidents/fight_model.json; a site-trained one from
# `python -m tools.train_fight --extra FOLDER --out FILE` (FOLDER from `manage.py export_incident_clips`)
CC_FIGHT_MODEL = env_str("CC_FIGHT_MODEL")
if CC_FIGHT_MODEL and not Path(CC_FIGHT_MODEL).is_file():  # its content: workers.checks (manage.py check)
    raise ImproperlyConfigured(f"CC_FIGHT_MODEL: no such file {CC_FIGHT_MODEL!r} (unset it for the shipped model)")
CC_CLIP_FPS = env_float("CC_CLIP_FPS", 5.0, minimum=1.0, maximum=30.0)
CC_CLIP_PRE_S = env_float("CC_CLIP_PRE_S", 4.0, minimum=0.0, maximum=30.0)
CC_CLIP_POST_S = env_float("CC_CLIP_POST_S", 4.0, minimum=0.5, maximum=30.0)
CC_PREVIEW_WIDTH = env_int("CC_PREVIEW_WIDTH", 640, minimum=160, maximum=1920)
CC_PREVIEW_INTERVAL_S = env_float("CC_PREVIEW_INTERVAL_S", 1.0, minimum=0.2, maximum=60.0)
CC_PREVIEW_TTL_S = env_int("CC_PREVIEW_TTL_S", 15, minimum=2, maximum=3600)
CC_JOB_UPLOAD_DIR = Path(env_str("CC_JOB_UPLOAD_DIR") or VAR_DIR / "uploads").resolve()
# hours of each camera's fight/aggression scores kept in Redis for its false-alert budget (~0.5 MB/camera/day)
CC_SCORE_HISTORY_HOURS = env_int("CC_SCORE_HISTORY_HOURS", 168, minimum=1, maximum=24 * 31)
CELERY_TASK_ROUTES = {
    "workers.tasks.assign_cameras": {"queue": "default"},  # never behind busy camera slots
    "workers.tasks.analyze_video_job": {"queue": "default"},
    "workers.tasks.calibrate_recording_job": {"queue": "default"},
    **CELERY_TASK_ROUTES,
}
CELERY_BEAT_SCHEDULE["assign-cameras"] = {
    "task": "workers.tasks.assign_cameras",
    "schedule": CC_ASSIGN_INTERVAL_S,
    "options": {"expires": CC_ASSIGN_INTERVAL_S * 2},
}

# --- REST API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.ModelPermissions"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "core.filters.FilterBackend",
        "core.filters.OrderingFilter",
        "core.filters.SearchFilter",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],  # uploads name their multipart parsers
    "DEFAULT_SCHEMA_CLASS": "core.api_schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"anon": "60/min", "user": "1200/min", "token": "10/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "City Command Center API",
    "DESCRIPTION": "Venues, cameras, watchlists, alerts. Every read of personal data is audited.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",  # served locally: no CDN, works offline
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "AlertKindEnum": "alerts.models.Alert.Kind",
        "AlertStatusEnum": "alerts.models.Alert.Status",
        "AlertOutcomeEnum": "alerts.models.Alert.Outcome",
        "EvidenceKindEnum": "alerts.models.Evidence.Kind",
        "VenueKindEnum": "venues.models.Venue.Kind",
        "SubjectStatusEnum": "watchlists.models.Subject.Status",
        "DeliveryStatusEnum": "alerts.models.Delivery.Status",
        "UnitStatusEnum": "alerts.models.UnitStatusReport.Status",
    },
}

# --- security ------------------------------------------------------------------------------------
HTTPS = env_bool("CC_HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("CC_SESSION_SECONDS", 12 * 3600, minimum=300)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- dispatch to the city CAD (issue 7; alerts.dispatch) ------------------------------------------
# Links in incidents point at the audited evidence views under this public base URL.
CC_PUBLIC_BASE_URL = env_str("CC_PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")
if not CC_PUBLIC_BASE_URL.startswith(("http://", "https://")) or " " in CC_PUBLIC_BASE_URL:
    raise ImproperlyConfigured(f"CC_PUBLIC_BASE_URL must be an http(s) URL, got {CC_PUBLIC_BASE_URL!r}")
CC_DISPATCH_AGENCY_ID = env_str("CC_DISPATCH_AGENCY_ID", "cc.police.city.example")
CC_DISPATCH_AGENCY_NAME = env_str("CC_DISPATCH_AGENCY_NAME", "City Police Command Center")
CC_DISPATCH_BACKOFF_BASE_S = env_float("CC_DISPATCH_BACKOFF_BASE_S", 2.0, minimum=0.05, maximum=60.0)
CC_DISPATCH_BACKOFF_CAP_S = env_float("CC_DISPATCH_BACKOFF_CAP_S", 300.0, minimum=1.0, maximum=3600.0)
CC_DISPATCH_WEBHOOK_WINDOW_S = env_int("CC_DISPATCH_WEBHOOK_WINDOW_S", 300, minimum=30, maximum=3600)
CC_DISPATCH_CLOSED_RESOLVES = env_bool("CC_DISPATCH_CLOSED_RESOLVES", False)
CC_DISPATCH_SWEEP_S = env_int("CC_DISPATCH_SWEEP_S", 30, minimum=5, maximum=3600)
CELERY_BEAT_SCHEDULE["alerts-dispatch-sweep"] = {
    "task": "alerts.tasks.dispatch_sweep",
    "schedule": float(CC_DISPATCH_SWEEP_S),
    "options": {"expires": float(CC_DISPATCH_SWEEP_S)},
}
CELERY_BEAT_SCHEDULE["alerts-dispatch-nonce-purge"] = {
    "task": "alerts.tasks.dispatch_nonce_purge",
    "schedule": 600.0,
}
# --- end of dispatch settings ---------------------------------------------------------------------

# --- security and audit (issue 8; core.security, retention.services) ----------------------------
INSTALLED_APPS += ["django_otp", "django_otp.plugins.otp_totp"]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "core.security.SecurityHeadersMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "django_otp.middleware.OTPMiddleware",
)
MIDDLEWARE += ["core.security.DeniedAuditMiddleware", "core.security.TwoFactorMiddleware"]
AUTHENTICATION_BACKENDS = ["core.security.ThrottledModelBackend"]
CC_REQUIRE_2FA_FOR = env_str("CC_REQUIRE_2FA_FOR", "admin,auditor,authoriser")
CC_2FA_ROLE_SET = frozenset(r.strip() for r in CC_REQUIRE_2FA_FOR.split(",") if r.strip())
if not CC_2FA_ROLE_SET.issubset(ROLES):
    raise ImproperlyConfigured(
        f"CC_REQUIRE_2FA_FOR lists unknown roles: {CC_REQUIRE_2FA_FOR!r} (roles: {', '.join(ROLES)})"
    )
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "City Command Center")
CC_LOGIN_MAX_FAILURES = env_int("CC_LOGIN_MAX_FAILURES", 5, minimum=2, maximum=100)
CC_LOGIN_LOCKOUT_S = env_int("CC_LOGIN_LOCKOUT_S", 15 * 60, minimum=60, maximum=24 * 3600)
SESSION_COOKIE_NAME = "__Host-cc_session" if HTTPS else "cc_session"  # __Host-: Secure, no Domain, Path=/
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # static/js/live.js reads the token for fetch() POSTs
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CC_MAP_TILE_URL = env_str("CC_MAP_TILE_URL")  # e.g. https://tiles.city.local/{z}/{x}/{y}.png; empty: plain map
_TILE_ORIGIN = "{0.scheme}://{0.netloc}".format(urlsplit(CC_MAP_TILE_URL)) if CC_MAP_TILE_URL else ""
CC_CONTENT_SECURITY_POLICY = env_str("CC_CONTENT_SECURITY_POLICY") or (
    f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: {_TILE_ORIGIN}".rstrip()
    + "; "
    "media-src 'self' blob:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "commandcenter@localhost")
# retention periods (retention.services.retention_run; live previews expire by CC_PREVIEW_TTL_S)
CC_RETENTION_UNCONFIRMED_EVIDENCE_DAYS = env_int("CC_RETENTION_UNCONFIRMED_EVIDENCE_DAYS", 30, minimum=1)
CC_RETENTION_CONFIRMED_EVIDENCE_DAYS = env_int("CC_RETENTION_CONFIRMED_EVIDENCE_DAYS", 365, minimum=1)
CC_RETENTION_AUDIT_DAYS = env_int("CC_RETENTION_AUDIT_DAYS", 5 * 365 + 1, minimum=365)
CC_RETENTION_SUBJECT_GRACE_DAYS = env_int("CC_RETENTION_SUBJECT_GRACE_DAYS", 7, minimum=0, maximum=90)
CC_SUBJECT_EXPIRY_NOTICE_DAYS = env_int("CC_SUBJECT_EXPIRY_NOTICE_DAYS", 14, minimum=1, maximum=180)
if CC_RETENTION_CONFIRMED_EVIDENCE_DAYS < CC_RETENTION_UNCONFIRMED_EVIDENCE_DAYS:
    raise ImproperlyConfigured("confirmed evidence must be kept at least as long as unconfirmed evidence")
CELERY_BEAT_SCHEDULE["retention"] = {
    "task": "retention.tasks.retention",
    "schedule": 6 * 3600.0,
    "options": {"expires": 3600.0},
}
CELERY_BEAT_SCHEDULE["retention-notify-expiring"] = {
    "task": "retention.tasks.notify_expiring",
    "schedule": 6 * 3600.0,
    "options": {"expires": 3600.0},
}
# lawful live identification (issue 16; oversight/): deployments, transparency report
CC_URGENT_AUTHORISATION_HOURS = env_int("CC_URGENT_AUTHORISATION_HOURS", 24, minimum=1, maximum=72)
CC_DEPLOYMENT_MAX_DAYS = env_int("CC_DEPLOYMENT_MAX_DAYS", 31, minimum=1, maximum=366)
CC_REPORT_MIN_COUNT = env_int("CC_REPORT_MIN_COUNT", 5, minimum=1, maximum=100)
CELERY_BEAT_SCHEDULE["oversight-urgent-lapse"] = {
    "task": "oversight.tasks.urgent_lapse",
    "schedule": 600.0,
    "options": {"expires": 300.0},
}
SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"] = ["rest_framework.permissions.IsAuthenticated"]  # no map for strangers
# --- end of security and audit settings -----------------------------------------------------------
