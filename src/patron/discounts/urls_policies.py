"""Pages for policies, rules, product sets, manual discount limits and the simulator."""

from django.urls import path

from . import views, views_publication

urlpatterns = [
    path("", views.policy_list, name="policy_list"),
    path("new/", views.policy_edit, name="policy_new"),
    path("<int:pk>/", views.policy_detail, name="policy_detail"),
    path("<int:pk>/edit/", views.policy_edit, name="policy_edit"),
    path("<int:pk>/status/", views.policy_status, name="policy_status"),
    path("<int:pk>/copy/", views.policy_copy, name="policy_copy"),
    path("<int:pk>/publish/", views_publication.policy_publish, name="policy_publish"),
    path("<int:pk>/rules/new/", views.rule_edit, name="rule_new"),
    path("rules/<int:rule_pk>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:rule_pk>/delete/", views.rule_delete, name="rule_delete"),
    path("rules/preview/", views.rule_preview, name="rule_preview"),
    path("product-sets/", views.product_set_list, name="product_set_list"),
    path("product-sets/new/", views.product_set_edit, name="product_set_new"),
    path("product-sets/<int:pk>/", views.product_set_edit, name="product_set_edit"),
    path("limits/", views.limit_list, name="limits"),
    path("simulator/", views.simulator_page, name="simulator"),
    path("simulator/accounts/", views.simulator_accounts, name="simulator_accounts"),
    path("simulator/products/", views.simulator_products, name="simulator_products"),
    path("simulator/sandbox/", views.sandbox_start, name="sandbox_start"),
    path("simulator/sandbox/clear/", views.sandbox_clear, name="sandbox_clear"),
    path("simulator/sandbox/rules/new/", views.sandbox_rule, name="sandbox_rule_new"),
    path("simulator/sandbox/rules/<slug:key>/", views.sandbox_rule, name="sandbox_rule"),
    path("simulator/sandbox/rules/<slug:key>/remove/", views.sandbox_rule_remove, name="sandbox_rule_remove"),
]
