"""The REST API (django-ninja): one NinjaAPI with a router per capability."""
