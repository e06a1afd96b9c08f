"""asyncpg adapters of the persistence ports in ``shared.db.repository``, one module per role."""

from shared.db.pg.uow import PgUnitOfWork

__all__ = ["PgUnitOfWork"]
