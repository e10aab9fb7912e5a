"""WebSocket routes."""

from django.urls import path

from alerts.consumers import AlertFeedConsumer

websocket_urlpatterns = [path("ws/alerts/", AlertFeedConsumer.as_asgi())]
