from django.contrib import admin
from django.urls import include, path

from patron.service.views import survey_answer

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("patron.api.urls")),
    path("accounts/", include("patron.accounts.urls")),
    path("sales/", include("patron.sales.urls")),
    path("imports/", include("patron.imports.urls")),
    path("exports/", include("patron.exports.urls")),
    path("segments/", include("patron.segments.urls")),
    path("approvals/", include("patron.approvals.urls")),
    path("discounts/", include("patron.discounts.urls")),
    path("rebates/", include("patron.rebates.urls")),
    path("coupons/", include("patron.coupons.urls")),
    path("service/", include("patron.service.urls")),
    path("receivables/", include("patron.receivables.urls")),
    path("pipeline/", include("patron.pipeline.urls")),
    path("s/<str:token>/", survey_answer, name="survey_answer"),
    path("offers/", include("patron.discounts.urls_public")),
    path("", include("patron.web.urls")),
]
