"""Per-user limits (table ``user_limits``): one optional row per user, each column ``NULL`` for
"the server's default" (``Settings.default_max_*``).

Its own table, so the user and compilation tables stay as they are; the row doubles as the lock
the API takes (``SELECT ... FOR UPDATE`` on PostgreSQL, the write lock on SQLite) while it
checks a limit and inserts what the limit counts (``service.quotas``).
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from dnfstore.base import Base


class UserLimits(Base):
    """A user's own limits; a missing row or a ``NULL`` column means the server default.

    ``max_concurrent_compilations``: jobs in ``queued`` or ``running`` at once (count);
    ``max_stored_bytes``: uploaded model bytes plus the artifacts the user's jobs own (bytes);
    ``max_uploads_per_minute``: models created in any 60 s window (count). ``0`` allows none.
    """

    __tablename__ = "user_limits"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    max_concurrent_compilations: Mapped[int | None] = mapped_column(Integer)
    max_stored_bytes: Mapped[int | None] = mapped_column(BigInteger)
    max_uploads_per_minute: Mapped[int | None] = mapped_column(Integer)
