"""Django settings. Everything a deployment changes comes from PATRON_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent.parent
BASE_DIR = Path(os.environ.get("PATRON_HOME", Path.cwd()))
VAR_DIR = Path(os.environ.get("PATRON_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _flag(name: str, default: bool = False) -> bool:
    return os.environ.get(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


def database_from_url(url: str) -> dict[str, object]:
    """sqlite:///path/to.db or postgres://user:password@host:port/name."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative.db or sqlite:////absolute/path.db, as dj-database-url reads them.
        path = unquote(parsed.path)[1:]
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path or str(VAR_DIR / "patron.sqlite3"),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": os.environ.get("PATRON_TEST_SQLITE") or None},
        }
    if parsed.scheme in {"postgres", "postgresql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parsed.path.lstrip("/") or "patron",
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": 60,
            # Prepared statements for the few queries that ask for them (the quote's): Django's own
            # cursors bind on the client and never prepare. Off (PATRON_DATABASE_PREPARE=0) behind a
            # pooler in transaction mode, which cannot keep a statement between transactions.
            "OPTIONS": {"prepare_threshold": 5 if _flag("PATRON_DATABASE_PREPARE", default=True) else None},
        }
    raise ValueError(f"PATRON_DATABASE_URL: unsupported scheme {parsed.scheme!r}")


SECRET_KEY = os.environ.get("PATRON_SECRET_KEY", "patron-local-development-key-change-me-in-production")
DEBUG = _flag("PATRON_DEBUG", default=False)
ALLOWED_HOSTS = os.environ.get("PATRON_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("PATRON_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "huey.contrib.djhuey",
    "ninja",
    "patron.staff",
    "patron.audit",
    "patron.accounts",
    "patron.sales",
    "patron.imports",
    "patron.exports",
    "patron.segments",
    "patron.approvals",
    "patron.discounts",
    "patron.coupons",
    "patron.rebates",
    "patron.service",
    "patron.receivables",
    "patron.pipeline",
    "patron.web",
    "patron.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "patron.staff.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "patron.config.urls"
WSGI_APPLICATION = "patron.config.wsgi.application"

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
                "django.template.context_processors.i18n",
                "patron.web.context.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(os.environ.get("PATRON_DATABASE_URL", f"sqlite:///{VAR_DIR / 'patron.sqlite3'}"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "staff.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = os.environ.get("PATRON_TIME_ZONE", "Asia/Shanghai")
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

EMAIL_HOST = os.environ.get("PATRON_EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("PATRON_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("PATRON_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("PATRON_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = _flag("PATRON_EMAIL_TLS")
DEFAULT_FROM_EMAIL = os.environ.get("PATRON_EMAIL_FROM", "patron@localhost")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
else:
    # No SMTP server configured: keep every message as a file under var/mail.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")

HUEY = {
    "huey_class": "huey.SqliteHuey",
    "name": "patron",
    "filename": str(VAR_DIR / "huey.sqlite3"),
    "immediate": _flag("PATRON_HUEY_IMMEDIATE"),
    "results": False,
    "consumer": {"workers": 2, "worker_type": "thread"},
}
if os.environ.get("PATRON_REDIS_URL"):
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "patron",
        "url": os.environ["PATRON_REDIS_URL"],
        "immediate": _flag("PATRON_HUEY_IMMEDIATE"),
        "results": False,
        "consumer": {"workers": 4, "worker_type": "thread"},
    }

# Counts that every process of this machine must share (how often coupon codes were tried): files.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}
# Coupon codes a user, a token or (twice this) an address may try a minute.
PATRON_COUPON_CHECKS_PER_MINUTE = int(os.environ.get("PATRON_COUPON_CHECKS_PER_MINUTE", "30"))
# How many proxies in front of Patron add to X-Forwarded-For; 0: the address is the connection's own
# (a client's X-Forwarded-For is not believed).
NINJA_NUM_PROXIES = int(os.environ.get("PATRON_NUM_PROXIES", "0"))

# The currency in which Patron reports; amounts are stored as entered.
PATRON_COMPANY_CURRENCY = os.environ.get("PATRON_COMPANY_CURRENCY", "CNY")
# An order over the account's credit limit waits for finance's override; "0": it only warns.
PATRON_CREDIT_BLOCK = _flag("PATRON_CREDIT_BLOCK", default=True)
# Payment reminders, in days from an invoice's due date (negative: before it).
PATRON_COLLECTION_SCHEDULE = os.environ.get("PATRON_COLLECTION_SCHEDULE", "-3,0,7,30")
# Where customers and staff reach Patron: the links in emails are absolute from here.
PATRON_BASE_URL = os.environ.get("PATRON_BASE_URL", "http://127.0.0.1:8000")
# Emails a second when a published policy goes out (0: no limit).
PATRON_PUBLISH_PER_SECOND = float(os.environ.get("PATRON_PUBLISH_PER_SECOND", "10"))
# Campaign messages wait out these local hours ("21:00-08:00"; empty: none).
PATRON_QUIET_HOURS = os.environ.get("PATRON_QUIET_HOURS", "21:00-08:00")
# SMS and app push go to this webhook (an SMS gateway, the shop's app), signed with the secret;
# without a URL they are written to VAR_DIR/messages (see patron.core.channels).
PATRON_MESSAGE_WEBHOOK_URL = os.environ.get("PATRON_MESSAGE_WEBHOOK_URL", "")
PATRON_MESSAGE_WEBHOOK_SECRET = os.environ.get("PATRON_MESSAGE_WEBHOOK_SECRET", "")
PATRON_MESSAGE_PROVIDER = os.environ.get("PATRON_MESSAGE_PROVIDER", "")
PATRON_PAGE_SIZE = 50

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("PATRON_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"

# Imports: the largest file accepted, and the request size that lets it through.
PATRON_IMPORT_MAX_MB = int(os.environ.get("PATRON_IMPORT_MAX_MB", "50"))
# Lists longer than this are exported in the background, and their files kept this many days.
PATRON_EXPORT_DIRECT_ROWS = int(os.environ.get("PATRON_EXPORT_DIRECT_ROWS", "5000"))
# The floor price of a product is its unit cost plus this margin (percent); no rule may
# price below it, and a manual discount below it needs approval.
PATRON_FLOOR_MARGIN_PERCENT = os.environ.get("PATRON_FLOOR_MARGIN_PERCENT", "0")
# An API token once found is trusted by a server process this many seconds without a query;
# revoking a token takes effect in every process at most this long after (0: check every call).
PATRON_TOKEN_CACHE_SECONDS = float(os.environ.get("PATRON_TOKEN_CACHE_SECONDS", "5"))
PATRON_EXPORT_KEEP_DAYS = int(os.environ.get("PATRON_EXPORT_KEEP_DAYS", "7"))
# The largest quote, bid or contract attached to an opportunity.
PATRON_PIPELINE_DOCUMENT_MAX_MB = int(os.environ.get("PATRON_PIPELINE_DOCUMENT_MAX_MB", "20"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
