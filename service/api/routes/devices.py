"""``GET /api/v1/devices``: device classes, their devices and queue lengths (user keys)."""

from __future__ import annotations

from fastapi import APIRouter

from profiling import farm
from service.api.deps import CurrentUser, SessionDep
from service.schemas.devices import DeviceClassPublic, DevicePublic, DevicesPublic

router = APIRouter(tags=["devices"])


@router.get("/devices", response_model=DevicesPublic)
def list_devices(_: CurrentUser, session: SessionDep) -> DevicesPublic:
    rows = farm.listing(session)
    return DevicesPublic(device_classes=[
        DeviceClassPublic(key=c.key, cpu_model=c.cpu_model, isa=c.isa, cores=c.cores,
                          max_mhz=c.max_mhz, os=c.os, queue_length=c.queue_length,
                          devices=[DevicePublic(**vars(d)) for d in c.devices])
        for c in rows])
