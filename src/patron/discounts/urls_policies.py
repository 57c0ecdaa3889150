"""Filled by the pages that use it."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
