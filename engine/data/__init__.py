"""ClickHouse access (server or embedded chdb), schema, loading and status."""
