"""The roles and the permissions their names imply; groups are created by migrations."""

from __future__ import annotations

DISPATCHER = "dispatcher"
SUPERVISOR = "supervisor"
ADMIN = "admin"
AUDITOR = "auditor"
AUTHORISER = "authoriser"  # a senior officer who authorises face-matching deployments (never their own)
ROLES = (DISPATCHER, SUPERVISOR, ADMIN, AUDITOR, AUTHORISER)

_READ_OPERATIONS = [
    "venues.view_venue",
    "venues.view_camera",
    "venues.view_zone",
    "venues.view_openinghours",
    "alerts.view_alert",
    "alerts.view_alertevent",
    "alerts.view_evidence",
    "watchlists.view_watchlist",
    "watchlists.view_subject",
    "watchlists.view_facetemplate",
]
_DISPATCH = [*_READ_OPERATIONS, "alerts.act_on_alert", "alerts.review_face_match", "oversight.search_events"]
_OVERSIGHT_READ = ["oversight.view_deployment", "oversight.view_transparency"]
_ADMIN_MODELS = {
    "venues": ["venue", "camera", "zone", "openinghours", "operatorscope"],
    "watchlists": ["watchlist", "subject", "facetemplate", "negativeexemplar", "facemodelswitch"],
}


def _crud(app: str, model: str) -> list[str]:
    return [f"{app}.{verb}_{model}" for verb in ("view", "add", "change", "delete")]


ROLE_PERMISSIONS: dict[str, list[str]] = {
    DISPATCHER: _DISPATCH,
    SUPERVISOR: [
        *_DISPATCH,
        "alerts.view_reports",
        "watchlists.check_photo",
        *_OVERSIGHT_READ,
        "oversight.request_deployment",
        "oversight.export_evidence",
    ],
    ADMIN: [
        *[perm for app, models in _ADMIN_MODELS.items() for model in models for perm in _crud(app, model)],
        "alerts.view_alert",
        "alerts.view_alertevent",
        "alerts.view_evidence",
        "alerts.view_reports",
        "watchlists.check_photo",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "oversight.view_deployment",
    ],
    AUDITOR: [
        *_READ_OPERATIONS,
        "alerts.view_reports",
        "audit.view_accessevent",
        "audit.export_accessevent",
        "audit.verify_accessevent",
        *_OVERSIGHT_READ,
        "oversight.search_events",
        "oversight.export_evidence",
        "oversight.export_unmasked",
    ],
    AUTHORISER: [*_READ_OPERATIONS, *_OVERSIGHT_READ, "oversight.authorise_deployment"],
}

# roles that see every venue regardless of their operator scope
ALL_VENUE_ROLES = (ADMIN, AUDITOR)


def ensure_role_groups() -> None:
    """Create the role groups with their permissions (idempotent; used by tests after table flushes)."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = [
            Permission.objects.get(content_type__app_label=perm.split(".")[0], codename=perm.split(".")[1])
            for perm in perms
        ]
        group.permissions.set(wanted)
