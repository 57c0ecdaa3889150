"""Rebate pages: programs with their agreements and accruals, settlements, and the customer's statement."""

from django.urls import path

from . import views, views_analysis

app_name = "rebates"

urlpatterns = [
    path("", views.program_list, name="program_list"),
    path("programs/new/", views.program_form, name="program_new"),
    path("programs/<int:program_id>/", views.program_detail, name="program_detail"),
    path("programs/<int:program_id>/edit/", views.program_form, name="program_edit"),
    path("programs/<int:program_id>/status/", views.program_status, name="program_status"),
    path("programs/<int:program_id>/announce/", views.program_announce, name="program_announce"),
    path("agreements/<int:agreement_id>/", views.agreement_detail, name="agreement_detail"),
    path("programs/<int:program_id>/agreements/", views.agreement_add, name="agreement_add"),
    path("programs/<int:program_id>/settle/", views.settlement_run, name="settlement_run"),
    path("settlements/<int:settlement_id>/", views.settlement_detail, name="settlement_detail"),
    path("settlements/<int:settlement_id>/approve/", views.settlement_approve, name="settlement_approve"),
    path("lines/<int:line_id>/override/", views.line_override, name="line_override"),
    path("statements/<int:agreement_id>/<str:period>/", views.statement, name="statement"),
    path("receipt/<str:token>/", views.receipt, name="receipt"),
    path("analysis/", views_analysis.overview, name="analysis"),
    path("programs/<int:program_id>/analysis/", views_analysis.program_analysis, name="program_analysis"),
    path("replays/<int:replay_id>/", views_analysis.replay_detail, name="replay_detail"),
    path("payouts/<int:payout_id>/paid/", views.payout_paid, name="payout_paid"),
]
