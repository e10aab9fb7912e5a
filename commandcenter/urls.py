"""URL routes: pages, audited file views, REST API with OpenAPI schema and docs, admin."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from accounts import views as account_views
from accounts.api import TokenView
from alerts import views as alert_views
from alerts.api import AlertViewSet
from alerts.api_dispatch import DeliveryViewSet
from alerts.recordings import RecordingViewSet
from alerts.webhooks import cad_status
from commandcenter import views
from oversight.api import DeploymentViewSet, EventSearchView, ExportView
from venues.api import CameraViewSet, VenueViewSet, ZoneViewSet
from watchlists import views as watchlist_views
from watchlists.api import PhotoCheckViewSet, SubjectViewSet, WatchlistViewSet

router = DefaultRouter()
router.register("venues", VenueViewSet, basename="venue")
router.register("cameras", CameraViewSet, basename="camera")
router.register("zones", ZoneViewSet, basename="zone")
router.register("watchlists", WatchlistViewSet, basename="watchlist")
router.register("subjects", SubjectViewSet, basename="subject")
router.register("alerts", AlertViewSet, basename="alert")
router.register("photo-checks", PhotoCheckViewSet, basename="photo-check")
router.register("recordings", RecordingViewSet, basename="recording")
router.register("deliveries", DeliveryViewSet, basename="delivery")
router.register("deployments", DeploymentViewSet, basename="deployment")

handler403 = "commandcenter.views.permission_denied"

handler404 = "core.api.not_found"  # JSON under /api/, the HTML page elsewhere

urlpatterns = [
    path("", include("alerts.urls")),
    path("", include("venues.urls")),
    path("language/", account_views.language_set, name="language-set"),
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("login/verify/", account_views.otp_verify, name="otp-verify"),
    path("login/2fa-setup/", account_views.otp_setup, name="otp-setup"),
    path("audit/", include("audit.urls")),
    path("oversight/", include("oversight.urls")),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("evidence/<uuid:evidence_id>/", alert_views.evidence_file, name="evidence-file"),
    path("faces/templates/<uuid:template_id>/crop.jpg", watchlist_views.template_crop, name="template-crop"),
    path("watchlists/check/", watchlist_views.photo_check_page, name="photo-check"),
    path("healthz", views.healthz, name="healthz"),
    # browsers ask for /favicon.ico on pages that name no icon (the API docs)
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True), name="favicon"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/cad/status/", cad_status, name="cad-status"),  # signed CAD webhook, no session
    path("api/token/", TokenView.as_view(), name="api-token"),
    path("api/exports/", ExportView.as_view(), name="api-exports"),
    path("api/event-search/", EventSearchView.as_view(), name="api-event-search"),
    path("api/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", views.ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),  # CSP: no inline JS
    # one sign-in page for everybody: throttled, audited, second factor for admins
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True), name="admin-login-redirect"),
    path("admin/", admin.site.urls),
]
