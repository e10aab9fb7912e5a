"""API pagination: page numbers with a client-chosen page size up to 500; bad numbers are a 400."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination as BasePagination
from rest_framework.request import Request


def _whole_number(request: Request, name: str, maximum: int | None = None) -> int | None:
    """The query parameter `name` as an integer from 1 (to `maximum`), None when absent; a 400 otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1 or (maximum is not None and int(raw) > maximum):
        upper = f" to {maximum}" if maximum is not None else ""
        raise ValidationError({name: [f"A whole number from 1{upper} is required."]})
    return int(raw)


class PageNumberPagination(BasePagination):
    """`?page=N&page_size=M` with N from 1 and M from 1 to 500; a page past the last one is a 404."""

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int:
        size = _whole_number(request, self.page_size_query_param, self.max_page_size)
        return size if size is not None else int(self.page_size or 0)

    def get_page_number(self, request: Request, paginator: Paginator[Any]) -> int:
        return _whole_number(request, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
        return parameters
