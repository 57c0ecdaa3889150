"""Coupon pages: campaigns, their dashboard and runs, and looking a code up."""

from django.urls import path

from . import views

app_name = "coupons"

urlpatterns = [
    path("", views.campaign_list, name="campaign_list"),
    path("new/", views.campaign_new, name="campaign_new"),
    path("lookup/", views.code_lookup, name="code_lookup"),
    path("feedback/<str:token>/", views.feedback, name="feedback"),
    path("<int:campaign_id>/", views.campaign_detail, name="campaign_detail"),
    path("<int:campaign_id>/edit/", views.campaign_edit, name="campaign_edit"),
    path("<int:campaign_id>/status/", views.campaign_status, name="campaign_status"),
    path("<int:campaign_id>/codes/", views.campaign_codes, name="campaign_codes"),
    path("<int:campaign_id>/run/", views.campaign_run_view, name="campaign_run"),
    path("<int:campaign_id>/runs/<int:run_id>/cancel/", views.run_cancel, name="run_cancel"),
    path("<int:campaign_id>/shared-code/", views.shared_code, name="shared_code"),
    path("<int:campaign_id>/import/", views.codes_import_view, name="codes_import"),
    path("<int:campaign_id>/points/", views.points_exchange_view, name="points_exchange"),
]
