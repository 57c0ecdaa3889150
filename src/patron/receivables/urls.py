from django.urls import path

from . import views

app_name = "receivables"

urlpatterns = [
    path("", views.aging, name="aging"),
    path("accounts/<str:code>/", views.account_page, name="account"),
    path("accounts/<str:code>/statement/", views.statement, name="statement"),
    path("accounts/<str:code>/promises/", views.promise_new, name="promise_new"),
    path("promises/<int:pk>/cancel/", views.promise_cancel, name="promise_cancel"),
]
