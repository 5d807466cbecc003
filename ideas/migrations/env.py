"""Alembic environment: runs against the URL given by `ideas.migrate` or DATABASE_URL."""

from alembic import context
from sqlalchemy import Connection

from ideas.db import make_engine
from ideas.migrate import include_object
from ideas.models import Base
from ideas.settings import Settings

config = context.config
target_metadata = Base.metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    url = config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
