from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("", views.account_list, name="list"),
    path("new/", views.account_new, name="new"),
    path("export/", views.account_export, name="export"),
    path("views/", views.saved_view_save, name="view_save"),
    path("views/<int:pk>/delete/", views.saved_view_delete, name="view_delete"),
    path("duplicates/", views.duplicate_list, name="duplicates"),
    path("duplicates/dismiss/", views.duplicate_dismiss, name="duplicate_dismiss"),
    path("<str:code>/", views.account_detail, name="detail"),
    path("<str:code>/edit/", views.account_edit, name="edit"),
    path("<str:code>/history/", views.account_history, name="history"),
    path("<str:code>/merge/", views.account_merge, name="merge"),
    path("<str:code>/duplicates/", views.account_duplicates_notice, name="duplicates_notice"),
    path("<str:code>/contacts/new/", views.contact_new, name="contact_new"),
    path("<str:code>/contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("<str:code>/contacts/<int:pk>/remove/", views.contact_remove, name="contact_remove"),
    path("<str:code>/notes/new/", views.note_new, name="note_new"),
    path("<str:code>/email/", views.email_new, name="email_new"),
]
