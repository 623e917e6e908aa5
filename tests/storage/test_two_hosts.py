"""End to end, hosts that share nothing but PostgreSQL, Redis and the object store: uvicorn and
two Celery workers as subprocesses, each with its OWN storage directory (its "disk"), the
objects in an S3 bucket (moto's server on loopback), downloads redirected to presigned URLs.

The model is uploaded through the API (so it exists on no worker's disk); job A runs while
only worker 1 is up, job B after worker 2 replaced it, so each worker must have fetched the
model from S3 and each artifact must come back from S3 through the API's redirect.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import httpx
import pytest
import redis

from dnfstore.settings import Settings
from dnnfusion.client import Client
from tests.helpers.pg import scratch_database
from tests.helpers.s3 import S3Server
from tests.service import onnx_models as m
from tests.service.conftest import REDIS_URL, add_user, stack_env, wait_worker
from tests.service.helpers import wait_final
from tests.service.procs import REPO, Proc, free_port, health_up

pytestmark = pytest.mark.slow


def worker(env: dict[str, str], name: str, disk: Path, root: Path) -> Proc:
    proc = Proc(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
         "--pool=prefork", "--concurrency=1", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "--loglevel=INFO", "-n", f"{name}@%h",
         "-Q", env["DNNFUSION_CELERY_QUEUE"]],
        {**env, "DNNFUSION_STORAGE_DIR": str(disk)},
        root / f"{name}.log",
    )
    wait_worker(proc, name)
    return proc


def files_under(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())


def check_artifact(data: bytes, job: dict) -> None:
    assert len(data) == job["artifact_bytes"]
    assert hashlib.sha256(data).hexdigest() == job["artifact_sha256"]
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = tar.getnames()
    assert {"artifact/plan.json", "artifact/report.json"} <= set(names)


def test_api_and_two_workers_share_only_the_object_store(s3_server: S3Server,
                                                          tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()
    queue = f"dnnfusion-s3-{uuid.uuid4().hex[:8]}"
    procs: list[Proc] = []
    with scratch_database("dnnfusion_s3") as db_url:
        env = stack_env(db_url, tmp_path, queue)
        env.update(s3_server.env)
        env.update(DNNFUSION_STORAGE_BACKEND="s3", DNNFUSION_S3_BUCKET=bucket,
                   DNNFUSION_S3_ENDPOINT_URL=s3_server.url, DNNFUSION_S3_PREFIX="e2e",
                   DNNFUSION_S3_PRESIGN="true")
        subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=REPO, env=env,
                       check=True, timeout=120, capture_output=True)
        key, _ = add_user(Settings(database_url=db_url), "alice")
        disks = {name: tmp_path / name for name in ("api", "w1", "w2")}
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        try:
            api = Proc([sys.executable, "-m", "uvicorn", "--factory", "service.main:create_app",
                        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                       {**env, "DNNFUSION_STORAGE_DIR": str(disks["api"])}, tmp_path / "api.log")
            procs.append(api)
            procs.append(w1 := worker(env, "w1", disks["w1"], tmp_path))
            api.wait_for(health_up(base), "uvicorn", timeout=60)
            h = {"X-API-Key": key}
            with httpx.Client(base_url=base, timeout=60) as http:
                r = http.post("/api/v1/models", headers=h,
                              files={"file": ("tiny.onnx", m.tiny_model(8, dynamic=True)
                                              .SerializeToString(), "application/octet-stream")})
                assert r.status_code == 201, r.text
                model = r.json()["id"]

                def run(batch: int) -> dict:
                    r = http.post("/api/v1/compilations", headers=h,
                                  json={"model_id": model, "input_shapes": {"x": [batch, 4]}})
                    assert r.status_code == 202, r.text
                    job = wait_final(http, key, r.headers["location"], timeout=180)
                    assert job["state"] == "succeeded", job
                    return job

                job_a = run(1)  # only w1 is up
                procs.append(worker(env, "w2", disks["w2"], tmp_path))
                w1.stop()
                job_b = run(2)  # only w2 is up

                # Each worker fetched the model from S3 into its own cache; no disk holds a
                # stored object, every stored object is in the bucket under the prefix.
                for name in ("w1", "w2"):
                    assert files_under(disks[name] / "cache") == [f"models/{model}/model.onnx"]
                    assert not (disks[name] / "compilations").exists()
                    assert not (disks[name] / "models").exists()
                assert not (disks["api"] / "models").exists()
                assert not (disks["api"] / "compilations").exists()
                listed = s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
                assert sorted(o["Key"] for o in listed) == sorted(
                    [f"e2e/models/{model}/model.onnx"]
                    + [f"e2e/compilations/{j['id']}/{f}" for j in (job_a, job_b)
                       for f in ("artifact.tar.gz", "report.json")]
                )

                for job in (job_a, job_b):
                    r = http.get(f"/api/v1/compilations/{job['id']}/artifact", headers=h)
                    assert r.status_code == 307, r.text
                    assert r.headers["location"].startswith(f"{s3_server.url}/{bucket}/e2e/")
                    check_artifact(httpx.get(r.headers["location"]).content, job)
                    report = http.get(f"/api/v1/compilations/{job['id']}/report", headers=h)
                    assert report.status_code == 200
                    assert report.json()["fused_blocks"] == job["summary"]["fused_blocks"]

            # The Python client follows the redirect itself (without sending its key there)
            # and checks the size and sha256 the API announced.
            with Client(base, key) as client:
                path = client.compilation(job_b["id"]).download(tmp_path / "dl")
            check_artifact(path.read_bytes(), job_b)
        finally:
            for proc in procs:
                proc.stop()
            r = redis.Redis.from_url(REDIS_URL)
            r.delete(queue, f"_kombu.binding.{queue}")
            r.close()
