"""Settings for the test suite: the real settings with a queue that runs at once."""

import os

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from .settings import *  # noqa: F403
from .settings import HUEY

HUEY = {**HUEY, "immediate": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LANGUAGE_CODE = "en"
PATRON_TOKEN_CACHE_SECONDS = 0  # tests revoke tokens and expect the next call refused
PATRON_COUPON_CHECKS_PER_MINUTE = 100_000  # the throttle's own test sets a low one
PATRON_QUIET_HOURS = ""  # the quiet hours' own tests set some
