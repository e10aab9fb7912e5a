"""Page routes of the dispatcher dashboard: feed, alert detail, map, reports."""

from __future__ import annotations

from django.urls import path

from alerts import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("alerts/<uuid:alert_id>/", views.alert_detail, name="alert-detail-page"),
    path("map/", views.venue_map, name="venue-map"),
    path("map/venues.json", views.map_data, name="map-data"),
    path("reports/", views.reports_page, name="reports"),
]
