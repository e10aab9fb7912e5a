"""API pagination: page numbers with a client-chosen page size up to 500."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination as BasePagination


class PageNumberPagination(BasePagination):
    """`?page=N&page_size=M` with M at most 500."""

    page_size_query_param = "page_size"
    max_page_size = 500
