from __future__ import annotations

from django.apps import AppConfig
from django.urls import register_converter

from dashboard.shared.links import OrderIdConverter


class DashboardConfig(AppConfig):
    name = "dashboard"
    label = "dashboard"
    verbose_name = "Choreography dashboard"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Before any route is read: the pages and the websocket streams both take order ids.
        register_converter(OrderIdConverter, "order")
        # Its model lives apart from the read model's (see the module), so is imported here.
        from dashboard.failures import redrive_jobs  # noqa: F401
