"""Schemathesis hooks of the OpenAPI contract test (also for the CLI: ``hooks`` in
``tests/service/openapi_contract.toml``).

The upload's file part may be any of the media types its ``encoding`` lists; what the server
reads in it (an ONNX protobuf, or an archive holding one) is more than a JSON Schema can say, so
the generator gets real files of each type: a tiny model (``tests.service.onnx_models``), alone,
zipped or in a .tar.gz. Registered once, on import.
"""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

from tests.service.onnx_models import tar_gz_bytes, tiny_bytes, zip_bytes

_SEEDS = st.integers(min_value=0, max_value=7)  # different weights, so different bytes

schemathesis.openapi.media_type("application/octet-stream", _SEEDS.map(tiny_bytes))
schemathesis.openapi.media_type(
    "application/zip", _SEEDS.map(lambda s: zip_bytes({"model.onnx": tiny_bytes(s)}))
)
schemathesis.openapi.media_type(
    "application/gzip", _SEEDS.map(lambda s: tar_gz_bytes({"model.onnx": tiny_bytes(s)}))
)
