"""docker-compose.yml, .env.example and the systemd units, checked without a Docker engine."""

from __future__ import annotations

import configparser
import re

import yaml

from dnfstore.settings import Settings
from tests.service.procs import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
ENV_EXAMPLE = {
    line.split("=", 1)[0].strip()
    for line in (REPO / ".env.example").read_text().splitlines()
    if "=" in line and not line.lstrip().startswith("#")
}


def test_services_present():
    assert set(COMPOSE["services"]) == {
        "postgres", "redis", "migrate", "api", "worker", "minio", "minio-init"
    }


def test_object_store_profile():
    """MinIO and its bucket one-shot only with ``--profile s3``; api and worker get the S3
    settings from the same environment (backend local unless .env says s3)."""
    svc = COMPOSE["services"]
    for name in ("minio", "minio-init"):
        assert svc[name]["profiles"] == ["s3"], name
    for name in ("postgres", "redis", "migrate", "api", "worker"):
        assert "profiles" not in svc[name], name
    assert svc["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert "mc mb --ignore-existing" in " ".join(svc["minio-init"]["command"])
    for name in ("api", "worker"):
        env = svc[name]["environment"]
        assert env["DNNFUSION_STORAGE_BACKEND"] == "${DNNFUSION_STORAGE_BACKEND:-local}"
        assert env["DNNFUSION_S3_ENDPOINT_URL"].endswith("http://minio:9000}")
        assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DNNFUSION_S3_BUCKET"} <= set(env)


def test_healthchecks_and_start_order():
    svc = COMPOSE["services"]
    assert "pg_isready" in " ".join(svc["postgres"]["healthcheck"]["test"])
    assert "ping" in svc["redis"]["healthcheck"]["test"]
    assert svc["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert svc["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert svc["migrate"]["restart"] == "no"
    for name in ("api", "worker"):
        deps = svc[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["redis"]["condition"] == "service_healthy"
        env = svc[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["REDIS_URL"].startswith("redis://")
        assert "storage:/var/lib/dnnfusion/storage" in svc[name]["volumes"]
    assert "workers.celery_app" in svc["worker"]["command"]
    assert "service.main:create_app" in svc["api"]["command"]
    # Scalable: a fixed container name or host port would stop `--scale worker=N`.
    assert "container_name" not in svc["worker"] and "ports" not in svc["worker"]


def test_every_compose_variable_is_in_env_example():
    lines = (REPO / "docker-compose.yml").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    assert used, "no variables found"
    assert used <= ENV_EXAMPLE, sorted(used - ENV_EXAMPLE)


def test_every_setting_is_in_env_example():
    names = set()
    for name, field in Settings.model_fields.items():
        if name.startswith("test_"):
            continue
        alias = field.validation_alias
        names.add(alias.choices[0] if alias is not None else f"DNNFUSION_{name.upper()}")
    assert names <= ENV_EXAMPLE, sorted(names - ENV_EXAMPLE)
    assert "DNNFUSION_TEST_COMPILE_DELAY_S" not in ENV_EXAMPLE


def test_example_settings_are_valid(monkeypatch):
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.startswith(("DNNFUSION_", "DATABASE_URL", "REDIS_URL")):
            key, value = line.split("=", 1)
            monkeypatch.setenv(key, value)
    s = Settings()
    assert s.visibility_timeout_s > s.compile_time_limit_s
    assert "linux-arm64" in s.targets


def test_systemd_units():
    units = {p.name: p for p in (REPO / "deploy").glob("*.service")}
    assert {
        "dnnfusion-api.service",
        "dnnfusion-worker@.service",
        "dnnfusion-agent.service",
        "dnnfusion-migrate.service",
    } <= set(units)
    for name, path in units.items():
        cp = configparser.ConfigParser(strict=False, interpolation=None)
        cp.read_string(path.read_text())
        assert cp["Service"]["ExecStart"], name
        assert cp["Service"]["EnvironmentFile"].startswith("/etc/dnnfusion/"), name
    worker = (REPO / "deploy/dnnfusion-worker@.service").read_text()
    assert "workers.celery_app" in worker and "KillMode=mixed" in worker
    assert (REPO / "deploy/Dockerfile").is_file() and (REPO / "deploy/README.md").is_file()
