"""Reading tables (``cloudformation.tables``): the project's table with its stream and TTL."""

from __future__ import annotations

from hubbub.runtime.cloudformation import AppSpec


def test_the_table_has_its_stream_and_ttl(app: AppSpec) -> None:
    """The chat table is read with its stream view type and TTL attribute."""
    table = app.tables["ChatTable"]
    assert table.name == "local-ChatTable"
    assert table.stream_view_type == "NEW_IMAGE"
    assert table.ttl_attribute == "expiresAt"
