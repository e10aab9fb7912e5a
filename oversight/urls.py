"""Page routes of the oversight app."""

from __future__ import annotations

from django.urls import path

from oversight import views

urlpatterns = [
    path("transparency/", views.transparency, name="transparency"),
    path("search/", views.event_search_page, name="event-search"),
    path("alerts/<uuid:alert_id>/export/", views.alert_export, name="alert-export"),
    path("deployments/", views.deployment_list, name="oversight-deployments"),
    path("deployments/<uuid:deployment_id>/", views.deployment_detail, name="oversight-deployment"),
    path("deployments/<uuid:deployment_id>/<str:decision>/", views.deployment_decide, name="oversight-decide"),
]
