from __future__ import annotations

from fastapi import APIRouter

from service.api.routes import agent, compilations, devices, health, models, profiling, report

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(models.router)
api_router.include_router(compilations.router)
api_router.include_router(agent.router)
api_router.include_router(devices.router)
api_router.include_router(report.router)
api_router.include_router(profiling.router)
