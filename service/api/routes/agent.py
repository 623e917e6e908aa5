"""Endpoints for device agents (agent keys only): register devices, heartbeat, lease profiling
requests, post results, give a lease back. An agent is identified by its key's id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dnfstore.profiling_models import DeviceClass
from profiling import farm, queries
from profiling.lease import lease_requests, release_request
from profiling.results import ResultRefused, Samples, find_posted, store_result
from service.api.deps import CurrentAgent, SessionDep
from service.api.responses import errors
from service.schemas.agent import (
    AgentPingPublic,
    HeartbeatIn,
    HeartbeatPublic,
    LeasedRequest,
    LeaseIn,
    LeasePublic,
    RegisteredDevice,
    RegisterIn,
    RegisterPublic,
    ReleaseIn,
    ResultIn,
    ResultPublic,
)

router = APIRouter(prefix="/agent", tags=["agent"])

# Profiling request ids are INTEGER columns: a larger one is a 422, not a database error.
RequestId = Annotated[int, Path(ge=1, le=2**31 - 1, description="profiling request id")]


def _owner(agent) -> str:
    _, key = agent
    return str(key.id)


@router.get("/ping", response_model=AgentPingPublic)
def ping(agent: CurrentAgent) -> AgentPingPublic:
    user, key = agent
    return AgentPingPublic(pong=True, user_id=user.id, key_kind=key.kind)


@router.post("/register", response_model=RegisterPublic)
def register(body: RegisterIn, agent: CurrentAgent, session: SessionDep) -> RegisterPublic:
    """Register (or re-register) this agent's devices; each gets its device class key."""
    owner = _owner(agent)
    out = []
    for d in body.devices:
        dc, dev = farm.register_device(session, owner=owner, serial=d.serial,
                                       info=d.device_class.info())
        out.append(RegisteredDevice(serial=dev.serial, device_class=dc.key))
    session.commit()
    return RegisterPublic(agent=owner, devices=out)


@router.post("/heartbeat", response_model=HeartbeatPublic)
def heartbeat(body: HeartbeatIn, agent: CurrentAgent, session: SessionDep) -> HeartbeatPublic:
    """Devices listed are seen now (online, °C, battery %); the agent's others go offline."""
    owner = _owner(agent)
    unknown = farm.heartbeat(session, owner=owner, statuses=[
        farm.DeviceStatus(s.serial, s.online, s.temperature_c, s.battery_pct)
        for s in body.devices])
    online = sum(d.online for d in farm.agent_devices(session, owner=owner))
    session.commit()
    return HeartbeatPublic(online=online, unknown=unknown)


@router.post("/lease", response_model=LeasePublic,
             responses=errors(s409="no devices registered yet: register before leasing"))
def lease(body: LeaseIn, agent: CurrentAgent, session: SessionDep) -> LeasePublic:
    """Lease up to ``max_requests`` requests of this agent's device classes (or those of
    ``device_classes`` among them) for ``lease_seconds``; an expired lease returns to the queue."""
    owner = _owner(agent)
    mine = {d.device_class_id for d in farm.agent_devices(session, owner=owner)}
    if not mine:
        raise HTTPException(status.HTTP_409_CONFLICT, "register devices before leasing")
    keys = {cid: key for cid, key in session.execute(
        select(DeviceClass.id, DeviceClass.key).where(DeviceClass.id.in_(mine)))}
    if body.device_classes is not None:
        wanted = set(body.device_classes)
        if not wanted <= set(keys.values()):
            raise HTTPException(422,
                                "device_classes: not all are classes of this agent's devices")
        mine = {cid for cid, k in keys.items() if k in wanted}
    rows = lease_requests(session, owner=owner, class_ids=sorted(mine), n=body.max_requests,
                          seconds=body.lease_seconds)
    out = []
    for r in rows:
        c = queries.request_candidate(r)
        out.append(LeasedRequest(
            id=r.id, device_class=keys[r.device_class_id], signature=r.signature,
            codegen_version=r.codegen_version, threads=r.threads, ops=r.ops, shapes=r.shapes,
            candidate_onnx_b64=LeasedRequest.encode(c.model), first=c.first, second=c.second,
            lease_expires_at=r.lease_expires_at))
    session.commit()
    return LeasePublic(requests=out)


@router.post(
    "/requests/{request_id}/results",
    response_model=ResultPublic,
    responses={
        201: {"model": ResultPublic, "description": "stored"},
        **errors(404, s409="the request is not leased by this agent, or the idempotency key "
                 "was used for another request"),
    },
)
def results(request_id: RequestId, body: ResultIn, agent: CurrentAgent, session: SessionDep,
            response: Response) -> ResultPublic:
    """Store the samples of a request this agent leased: 201 once, 200 for a retried post
    with the same ``idempotency_key`` (nothing added)."""
    owner = _owner(agent)
    samples = Samples(body.fused_us, body.separate_us, body.cpu, body.max_abs_diff,
                      body.temperature_c, body.battery_pct)
    try:
        entry, created = store_result(session, owner=owner, request_id=request_id,
                                      serial=body.serial, key=body.idempotency_key,
                                      samples=samples)
        session.commit()
    except ResultRefused as e:
        session.rollback()
        raise HTTPException(e.status, str(e)) from None
    except IntegrityError:  # a concurrent post with the same key won
        session.rollback()
        entry, created = find_posted(session, owner=owner, key=body.idempotency_key), False
        if entry is None or entry.request_id != request_id:
            raise HTTPException(status.HTTP_409_CONFLICT, "conflicting result post") from None
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return ResultPublic(entry_id=entry.id, request_id=request_id, created=created)


@router.post("/requests/{request_id}/release", status_code=status.HTTP_204_NO_CONTENT,
             responses=errors(s409="the request is not leased by this agent"))
def release(request_id: RequestId, body: ReleaseIn, agent: CurrentAgent,
            session: SessionDep) -> None:
    """Give a lease back: to the queue, or ``failed`` (the benchmark cannot run)."""
    if not release_request(session, owner=_owner(agent), request_id=request_id,
                           failed=body.failed):
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"profiling request {request_id} is not leased by this agent")
    session.commit()
