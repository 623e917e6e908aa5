"""The spool: results are written here before they are posted and removed only after the
service acknowledged them, so neither a service nor an agent restart loses one. Each file holds
the request id and the post body (with its idempotency key: re-posting adds nothing twice)."""

from __future__ import annotations

import json
import os
from pathlib import Path


class Spool:
    """A directory of ``<request id>-<idempotency key>.json`` files."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, request_id: int, body: dict) -> Path:
        """Write one result durably (temporary file, fsync, rename); returns its path."""
        path = self.root / f"{int(request_id)}-{body['idempotency_key']}.json"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump({"request_id": int(request_id), "body": body}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path

    def pending(self) -> list[tuple[Path, int, dict]]:
        """Every spooled result, oldest first: (file, request id, post body). A file that does
        not parse is renamed ``*.bad`` and skipped."""
        out = []
        for p in sorted(self.root.glob("*.json"), key=lambda p: p.stat().st_mtime):
            try:
                doc = json.loads(p.read_text())
                out.append((p, int(doc["request_id"]), dict(doc["body"])))
            except (ValueError, KeyError, TypeError, OSError):
                p.rename(p.with_suffix(".bad"))
        return out

    @staticmethod
    def done(path: Path) -> None:
        """Remove a result the service acknowledged."""
        path.unlink(missing_ok=True)
