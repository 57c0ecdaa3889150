"""Follow-up pages: my day, the team's work, a task."""

from django.urls import path

from . import views

app_name = "service"

urlpatterns = [
    path("", views.my_day, name="my_day"),
    path("team/", views.team, name="team"),
    path("tasks/new/", views.task_new, name="task_new"),
    path("tasks/<int:task_id>/", views.task_detail, name="task_detail"),
    path("tasks/<int:task_id>/done/", views.task_done_quick, name="task_done"),
    path("cadences/", views.cadence_list, name="cadence_list"),
    path("jobs/", views.jobs, name="jobs"),
    path("complaints/", views.complaint_list, name="complaint_list"),
    path("complaints/new/", views.complaint_new, name="complaint_new"),
    path("complaints/<int:complaint_id>/", views.complaint_detail, name="complaint_detail"),
    path("surveys/", views.survey_list, name="survey_list"),
    path("surveys/new/", views.survey_new, name="survey_new"),
    path("surveys/<int:survey_id>/", views.survey_detail, name="survey_detail"),
    path("cadences/new/", views.cadence_form, name="cadence_new"),
    path("cadences/<int:cadence_id>/", views.cadence_form, name="cadence_edit"),
]
