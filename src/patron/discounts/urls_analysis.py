"""Pages for what a policy would cost (what-if) and what it did (effect), under /discounts/analysis/."""

from django.urls import path

from . import views_analysis as views

urlpatterns = [
    path("", views.analysis_index, name="analysis"),
    path("policies/<int:pk>/what-if/", views.what_if, name="what_if"),
    path("policies/<int:pk>/effect/", views.effect, name="effect"),
    path("what-if/<int:pk>/", views.what_if_run, name="what_if_run"),
    path("what-if/<int:pk>/progress/", views.what_if_progress, name="what_if_progress"),
]
