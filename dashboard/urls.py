from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard.failures import views as failures
from dashboard.insight import route_views
from dashboard.live import views as live
from dashboard.orders import views as orders
from dashboard.traces import views as traces
from dashboard.web.auth import ThrottledLoginView

urlpatterns = [
    path("", live.live, name="live"),
    path("orders/", traces.order_list, name="order-list"),
    path("orders/place", orders.order_create, name="order-create"),
    path("orders/<order:order_id>", traces.order_trace, name="order-trace"),
    path("failures/", failures.failures, name="failures"),
    path("failures/chaos", failures.chaos_update, name="chaos-update"),
    path("failures/<str:queue_name>/redrive", failures.dead_letters_redrive, name="dead-letters-redrive"),
    path("api/graph", live.graph_json, name="graph-json"),
    path("api/dead-letters", failures.dead_letters_json, name="dead-letters-json"),
    path("api/redrives", failures.redrive_jobs_json, name="redrive-jobs-json"),
    path("api/backlog", live.backlog_json, name="backlog-json"),
    path("api/orders/<order:order_id>", traces.order_json, name="order-json"),
    path("api/routes", route_views.routes_json, name="routes-json"),
    path("routes/<str:rule>", route_views.route_page, name="route"),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
