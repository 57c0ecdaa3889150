from django.urls import path

from . import views

app_name = "imports"

urlpatterns = [
    path("", views.import_list, name="list"),
    path("new/", views.import_new, name="new"),
    path("template/<str:kind>.csv", views.import_template, name="template"),
    path("<int:pk>/", views.import_detail, name="detail"),
    path("<int:pk>/execute/", views.import_execute, name="execute"),
    path("<int:pk>/progress/", views.import_progress, name="progress"),
    path("<int:pk>/report.csv", views.import_report, name="report"),
    path("<int:pk>/undo/", views.import_undo, name="undo"),
]
