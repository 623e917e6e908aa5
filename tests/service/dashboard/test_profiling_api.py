"""``/api/v1/profiling``: read-only views of the profiling tables (empty, then with entries of
two structures on two device classes)."""

from __future__ import annotations

from datetime import timedelta

from dnfstore.base import utcnow
from dnfstore.db import make_engine, make_sessionmaker
from dnfstore.profiling_models import DeviceClass, ProfileEntry


def _entry(dc: DeviceClass, structure: str, shape: list[int], fused: float, separate: float,
           age_s: int) -> ProfileEntry:
    return ProfileEntry(
        device_class_id=dc.id, signature=f"{structure}-{'x'.join(map(str, shape))}",
        structure_key=structure, codegen_version=1, threads=1, ops="Conv | Relu",
        mapping="Many-to-Many | One-to-One", dtype="float32", shapes=[shape],
        fused_us=[fused], separate_us=[separate], fused_median_us=fused,
        fused_p10_us=fused * 0.9, fused_p90_us=fused * 1.1, fused_count=1,
        separate_median_us=separate, separate_p10_us=separate * 0.9,
        separate_p90_us=separate * 1.2, separate_count=1, spread=0.2,
        measured_at=utcnow() - timedelta(seconds=age_s),
    )


def test_profiling_endpoints(dash):
    key = {"X-API-Key": dash.alice}
    r = dash.client.get("/api/v1/profiling/signatures", headers=key)
    assert r.status_code == 200 and r.json() == {"structures": [], "device_classes": []}
    assert dash.client.get("/api/v1/profiling/signatures/abc", headers=key).status_code == 404

    engine = make_engine(dash.settings)
    with make_sessionmaker(engine)() as s:
        host, phone, idle = (DeviceClass(key=k) for k in ("host-x86", "phone-a76", "idle"))
        s.add_all([host, phone, idle])
        s.flush()
        s.add_all([
            _entry(host, "s1", [1, 8, 32, 32], 10.0, 15.0, 30),
            _entry(host, "s1", [1, 16, 16, 16], 6.0, 5.0, 20),
            _entry(phone, "s1", [1, 8, 32, 32], 40.0, 70.0, 10),
            _entry(phone, "s2", [4, 4], 1.0, 2.0, 5),
        ])
        s.commit()
    engine.dispose()

    body = dash.client.get("/api/v1/profiling/signatures", headers=key).json()
    first = body["structures"][0]
    assert (first["structure_key"], first["entries"], first["device_classes"],
            first["signatures"]) == ("s1", 3, 2, 2)
    assert first["ops"] == "Conv | Relu" and first["dtype"] == "float32"
    assert body["structures"][1]["structure_key"] == "s2"
    assert body["device_classes"] == [{"key": "host-x86", "entries": 2},
                                      {"key": "idle", "entries": 0},
                                      {"key": "phone-a76", "entries": 2}]

    detail = dash.client.get("/api/v1/profiling/signatures/s1", headers=key).json()
    got = [(e["device_class"], e["shapes"], e["fused_median_us"], e["separate_median_us"])
           for e in detail["entries"]]
    assert got == [("phone-a76", [[1, 8, 32, 32]], 40.0, 70.0),  # newest first
                   ("host-x86", [[1, 16, 16, 16]], 6.0, 5.0),
                   ("host-x86", [[1, 8, 32, 32]], 10.0, 15.0)]
    assert detail["entries"][0]["separate_p90_us"] == 70.0 * 1.2

    # A dashboard session reads it too; nobody without a key or session does.
    b, _ = dash.signed_in(dash.bob)
    assert b.get("/api/v1/profiling/signatures/s2").status_code == 200
    assert dash.browser().get("/api/v1/profiling/signatures").status_code == 401
    bad = dash.client.get("/api/v1/profiling/signatures/a%20b", headers=key)
    assert bad.status_code == 422
    assert dash.client.post("/api/v1/profiling/signatures", headers=key).status_code == 405
