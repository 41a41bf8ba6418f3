from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard import views
from dashboard.auth import ThrottledLoginView

urlpatterns = [
    path("", views.live, name="live"),
    path("orders/", views.order_list, name="order-list"),
    path("orders/place", views.order_create, name="order-create"),
    path("orders/<order:order_id>", views.order_trace, name="order-trace"),
    path("failures/", views.failures, name="failures"),
    path("failures/chaos", views.chaos_update, name="chaos-update"),
    path("failures/<str:queue_name>/redrive", views.dead_letters_redrive, name="dead-letters-redrive"),
    path("api/graph", views.graph_json, name="graph-json"),
    path("api/dead-letters", views.dead_letters_json, name="dead-letters-json"),
    path("api/redrives", views.redrive_jobs_json, name="redrive-jobs-json"),
    path("api/backlog", views.backlog_json, name="backlog-json"),
    path("api/orders/<order:order_id>", views.order_json, name="order-json"),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
