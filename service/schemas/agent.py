from __future__ import annotations

import uuid

from pydantic import BaseModel


class AgentPingPublic(BaseModel):
    pong: bool
    user_id: uuid.UUID
    key_kind: str
