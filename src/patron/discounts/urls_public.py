"""The customer's page of an offer: public, reached by the link in the email (no sign-in)."""

from django.urls import path

from . import views_public

app_name = "offers"

urlpatterns = [
    path("<str:token>/", views_public.offer, name="offer"),
]
