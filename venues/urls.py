"""Camera pages: the wall, its status feed, previews and live video."""

from __future__ import annotations

from django.urls import path

from venues import live, views

urlpatterns = [
    path("cameras/", views.camera_wall, name="camera-wall"),
    path("cameras/status.json", views.camera_status, name="camera-status"),
    path("cameras/<uuid:camera_id>/preview.jpg", views.camera_preview, name="camera-preview"),
    path("cameras/<uuid:camera_id>/live.mjpg", live.camera_live, name="camera-live"),
]
