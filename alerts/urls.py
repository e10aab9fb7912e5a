"""Page routes of the dispatcher dashboard: feed, alert detail, camera wall, map, reports."""

from __future__ import annotations

from django.urls import path

from alerts import live, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("alerts/<uuid:alert_id>/", views.alert_detail, name="alert-detail-page"),
    path("cameras/", views.camera_wall, name="camera-wall"),
    path("cameras/status.json", views.camera_status, name="camera-status"),
    path("cameras/<uuid:camera_id>/preview.jpg", views.camera_preview, name="camera-preview"),
    path("cameras/<uuid:camera_id>/live.mjpg", live.camera_live, name="camera-live"),
    path("map/", views.venue_map, name="venue-map"),
    path("map/venues.json", views.map_data, name="map-data"),
    path("reports/", views.reports_page, name="reports"),
    path("language/", views.language_set, name="language-set"),
]
