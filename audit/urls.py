"""The auditor's workspace."""

from __future__ import annotations

from django.urls import path

from audit import views

app_name = "audit"
urlpatterns = [
    path("", views.event_list, name="log"),
    path("object/<str:object_type>/<str:object_id>/", views.object_history, name="object-history"),
    path("verify/", views.chain_verify_page, name="verify"),
]
