from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard.catalogue import views as catalogue
from dashboard.failures import views as failures
from dashboard.insight import drift_views, route_views, search_views, version_views
from dashboard.insight import views as insight
from dashboard.live import order_views
from dashboard.live import views as live
from dashboard.traces import views as traces
from dashboard.web.auth import ThrottledLoginView

urlpatterns = [
    path("", live.live, name="live"),
    path("orders/", traces.order_list, name="order-list"),
    path("orders/place", order_views.order_create, name="order-create"),
    # Before an order's trace: its id may be any text, "compare" too.
    path("orders/compare", traces.order_compare, name="order-compare"),
    path("orders/<order:order_id>", traces.order_trace, name="order-trace"),
    path("failures/", failures.failures, name="failures"),
    path("failures/chaos", failures.chaos_update, name="chaos-update"),
    path("failures/<str:queue_name>/redrive", failures.dead_letters_redrive, name="dead-letters-redrive"),
    path("stuck/", insight.stuck, name="stuck"),
    path("api/stuck", insight.stuck_json, name="stuck-json"),
    path("api/drift", drift_views.drift_json, name="drift-json"),
    path("api/drift/count", drift_views.drift_count_json, name="drift-count-json"),
    path("drift/", drift_views.drift_page, name="drift"),
    path("api/graph", live.graph_json, name="graph-json"),
    path("api/dead-letters", failures.dead_letters_json, name="dead-letters-json"),
    path("api/redrives", failures.redrive_jobs_json, name="redrive-jobs-json"),
    path("api/backlog", live.backlog_json, name="backlog-json"),
    # Before an order's JSON, which would take ".../otlp" as part of the id.
    path("api/orders/<order:order_id>/otlp", traces.order_otlp, name="order-otlp"),
    path("api/orders/<order:order_id>", traces.order_json, name="order-json"),
    path("search/", search_views.search_page, name="search"),
    path("api/routes", route_views.routes_json, name="routes-json"),
    path("routes/<str:rule>", route_views.route_page, name="route"),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

urlpatterns += [
    path("catalogue/", catalogue.catalogue, name="catalogue"),
    path("catalogue/events/<str:event_type>", catalogue.catalogue_event, name="catalogue-event"),
    path("api/catalogue", catalogue.catalogue_json, name="catalogue-json"),
    path("api/catalogue/asyncapi.json", catalogue.catalogue_asyncapi, name="catalogue-asyncapi"),
    path("api/catalogue/traffic", catalogue.catalogue_traffic_json, name="catalogue-traffic-json"),
]

urlpatterns += [
    path("versions/", version_views.versions_page, name="versions"),
    path("api/versions", version_views.versions_json, name="versions-json"),
]
