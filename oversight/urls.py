"""Page routes of the oversight app."""

from __future__ import annotations

from django.urls import path

from oversight import views

urlpatterns = [
    path("deployments/", views.deployment_list, name="deployments"),
    path("deployments/<uuid:deployment_id>/", views.deployment_detail, name="deployment-detail"),
    path("deployments/<uuid:deployment_id>/<str:decision>/", views.deployment_decide, name="deployment-decide"),
]
