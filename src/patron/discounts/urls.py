"""Discount pages: policies and rules with the simulator, analysis (what-if, effect), publication."""

from django.urls import include, path

app_name = "discounts"

urlpatterns = [
    path("analysis/", include("patron.discounts.urls_analysis")),
    path("", include("patron.discounts.urls_policies")),
]
