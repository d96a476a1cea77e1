"""Alembic migrations of the Caucus database, run by :meth:`storage.Store.upgrade`.

No ``alembic.ini`` is needed: :func:`storage.database.alembic_config` builds the
configuration in code. For development use ``python -m storage.migrations`` (Alembic's
own command line, e.g. ``python -m storage.migrations -x url=sqlite:///dev.db revision
--autogenerate -m "add polls"``).
"""
