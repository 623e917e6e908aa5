from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class ModelInput(BaseModel):
    name: str
    dtype: str | None
    shape: list[int | str | None]  # str: a symbolic dim to pin in input_shapes


class ModelPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    sha256: str
    size_bytes: int
    upload_format: str
    opset: int | None
    inputs: list[ModelInput]
    created_at: datetime


class ModelsPublic(BaseModel):
    data: list[ModelPublic]
    count: int
