from __future__ import annotations

from django.urls import path

from dashboard.live.consumers import EventStreamConsumer, OrderStreamConsumer

websocket_urlpatterns = [
    path("ws/events", EventStreamConsumer.as_asgi()),
    path("ws/orders", OrderStreamConsumer.as_asgi()),
    path("ws/orders/<order:order_id>", OrderStreamConsumer.as_asgi()),
]
