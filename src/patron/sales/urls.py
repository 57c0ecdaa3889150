from django.urls import path

from . import views

app_name = "sales"
urlpatterns = [
    path("orders/", views.order_list, name="order_list"),
    path("orders/new/", views.order_new, name="order_new"),
    path("orders/new/line/", views.order_line, name="order_line"),
    path("orders/<str:number>/", views.order_detail, name="order_detail"),
    path("orders/<str:number>/confirm/", views.order_confirm, name="order_confirm"),
    path("orders/<str:number>/cancel/", views.order_cancel, name="order_cancel"),
    path("orders/<str:number>/credit-override/", views.order_credit_override, name="order_credit_override"),
    path("returns/new/", views.return_new, name="return_new"),
    path("invoices/", views.invoice_list, name="invoice_list"),
    path("invoices/new/", views.invoice_new, name="invoice_new"),
    path("invoices/<str:number>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<str:number>/void/", views.invoice_void, name="invoice_void"),
    path("payments/", views.payment_list, name="payment_list"),
    path("payments/new/", views.payment_new, name="payment_new"),
    path("payments/<str:number>/", views.payment_detail, name="payment_detail"),
    path("products/", views.product_list, name="product_list"),
    path("products/new/", views.product_new, name="product_new"),
    path("products/<str:sku>/edit/", views.product_edit, name="product_edit"),
]
