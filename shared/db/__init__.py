"""PostgreSQL access: the connection pool, migrations and the order repository adapters."""
