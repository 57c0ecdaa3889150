"""Pipeline pages: the list, the board, an opportunity and its parts, the forecast."""

from django.urls import path

from . import views

app_name = "pipeline"

urlpatterns = [
    path("", views.opportunity_list, name="list"),
    path("board/", views.board, name="board"),
    path("forecast/", views.forecast, name="forecast"),
    path("new/", views.opportunity_new, name="new"),
    path("<int:opportunity_id>/", views.opportunity_detail, name="detail"),
    path("<int:opportunity_id>/edit/", views.opportunity_edit, name="edit"),
    path("<int:opportunity_id>/move/", views.opportunity_move, name="move"),
    path("<int:opportunity_id>/people/", views.decision_maker_add, name="person_add"),
    path("<int:opportunity_id>/people/<int:contact_id>/remove/", views.decision_maker_remove, name="person_remove"),
    path("<int:opportunity_id>/documents/", views.document_upload, name="document_upload"),
    path("<int:opportunity_id>/documents/<int:document_id>/", views.document_download, name="document_download"),
    path("<int:opportunity_id>/documents/<int:document_id>/remove/", views.document_remove, name="document_remove"),
]
