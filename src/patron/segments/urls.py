from django.urls import path

from . import views

app_name = "segments"

urlpatterns = [
    path("", views.segment_list, name="list"),
    path("new/", views.segment_edit, name="new"),
    path("export/", views.segment_export, name="export"),
    path("runs/", views.run_start, name="run_start"),
    path("runs/<int:pk>/", views.run_progress, name="run_progress"),
    path("<slug:key>/", views.segment_detail, name="detail"),
    path("<slug:key>/edit/", views.segment_edit, name="edit"),
    path("<slug:key>/accounts/", views.segment_members, name="members"),
    path("<slug:key>/movers/", views.segment_movers, name="movers"),
    path("<slug:key>/rfm/", views.segment_rfm, name="rfm"),
]
