"""The current request's client address and agent, for audit records written deep in services."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    """Where an action came from."""

    ip: str | None = None
    user_agent: str = ""


_current: ContextVar[RequestContext] = ContextVar("audit_request_context", default=RequestContext())  # noqa: B039 (frozen)


def current() -> RequestContext:
    """Return the context of the request being served (empty outside requests)."""
    return _current.get()


def set_current(context: RequestContext) -> object:
    """Set the context; return a token for `reset`."""
    return _current.set(context)


def reset(token: object) -> None:
    """Restore the previous context."""
    _current.reset(token)  # type: ignore[arg-type]


_denials: ContextVar[list[int] | None] = ContextVar("audit_denials", default=None)


def denials_reset() -> object:
    """Start counting DENIED records for the current request; return a token for `denials_restore`."""
    return _denials.set([])


def denials_restore(token: object) -> None:
    """Stop counting (restore the outer state)."""
    _denials.reset(token)  # type: ignore[arg-type]


def denial_mark() -> None:
    """Note that a DENIED record was written during the current request."""
    seen = _denials.get()
    if seen is not None:
        seen.append(1)


def denial_recorded() -> bool:
    """Whether a DENIED record was written during the current request."""
    return bool(_denials.get())
