"""What is sent for a model path, as a stream: never the whole model in memory.

* a single ``.onnx`` (its weights inside it), or any other single file (a ``.zip`` or
  ``.tar.gz`` the user packed, or something the API will refuse with its reason): the file's
  bytes as they are;
* a directory, or an ``.onnx`` whose tensors live in external-data files: a ``.tar.gz`` built
  on the fly (the API accepts ``.zip`` and ``.tar.gz`` holding exactly one ``.onnx`` and its
  data files, ``service/ingest.py``). The archive is deterministic (sorted members, mtime 0, no
  owner), so packing the same files twice gives the same bytes and the API's content-hash
  deduplication finds the model already stored.

The body is multipart/form-data with the one field ``file`` (``service/upload.py``), produced
by a generator that reads the files 1 MiB at a time; calling :meth:`UploadBody.chunks` again
starts over (a retry re-sends the whole body).
"""

from __future__ import annotations

import os
import tarfile
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dnnfusion.client.errors import InvalidModelError

CHUNK = 1 << 20
_BLOCK = 512


@dataclass(frozen=True)
class UploadSource:
    """``members``: (name in the archive, file) pairs; ``archive``: pack them as a .tar.gz
    (else ``members`` holds one file sent as it is). ``filename``: the name the API stores."""

    filename: str
    members: tuple[tuple[str, Path], ...]
    archive: bool

    def size(self) -> int | None:
        """Bytes of the file part when known in advance (``None`` for a .tar.gz built on the
        fly, sent with chunked transfer encoding)."""
        return None if self.archive else self.members[0][1].stat().st_size

    def chunks(self) -> Iterator[bytes]:
        if self.archive:
            yield from tar_gz_chunks(self.members)
        else:
            yield from _file_chunks(self.members[0][1])


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            yield block


def _tar_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(format=tarfile.PAX_FORMAT)


def tar_gz_chunks(members: tuple[tuple[str, Path], ...] | list[tuple[str, Path]]) -> Iterator[bytes]:
    """A .tar.gz of ``members`` ((archive name, file) pairs, written in that order), yielded as
    compressed chunks; memory use is one read chunk plus zlib's window. Raises
    :class:`InvalidModelError` if a file changes size while it is read."""
    gz = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip stream, header mtime 0
    for name, path in members:
        size = path.stat().st_size
        if out := gz.compress(_tar_header(name, size)):
            yield out
        sent = 0
        for block in _file_chunks(path):
            sent += len(block)
            if sent > size:
                break
            if out := gz.compress(block):
                yield out
        if sent != size:
            raise InvalidModelError(f"{path}: the file changed while it was uploaded")
        if out := gz.compress(b"\0" * (-size % _BLOCK)):
            yield out
    yield gz.compress(b"\0" * (2 * _BLOCK)) + gz.flush()


def _tensors(graph) -> Iterator:
    """Every TensorProto of ``graph``: initializers, sparse ones, attribute tensors, subgraphs."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        yield from _attribute_tensors(node.attribute)


def _attribute_tensors(attributes) -> Iterator:
    for attr in attributes:
        if attr.HasField("t"):
            yield attr.t
        yield from attr.tensors
        if attr.HasField("g"):
            yield from _tensors(attr.g)
        for g in attr.graphs:
            yield from _tensors(g)


def external_data_files(model_path: Path) -> list[str]:
    """The relative paths of the external-data files ``model_path`` refers to (sorted, each
    once); reads the .onnx without its external data. Raises :class:`InvalidModelError` when
    it declares external data that cannot be packed (absolute path, ``..``, missing file); a
    file that does not parse as ONNX gives ``[]`` (it is sent as it is, and the API says why
    it refuses it)."""
    import onnx

    try:
        model = onnx.load_model(os.fspath(model_path), load_external_data=False)
    except Exception:  # noqa: BLE001 - not ONNX: the API says why
        return []
    tensors = list(_tensors(model.graph))
    for function in model.functions:
        for node in function.node:
            tensors.extend(_attribute_tensors(node.attribute))
    locations = set()
    for tensor in tensors:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        entries = {e.key: e.value for e in tensor.external_data}
        locations.add(_safe_location(entries.get("location", ""), model_path))
    return sorted(locations)


def _safe_location(location: str, model_path: Path) -> str:
    rel = PurePosixPath(location.replace("\\", "/"))
    if not location or rel.is_absolute() or ".." in rel.parts:
        raise InvalidModelError(
            f"{model_path}: external data location {location!r} must be a relative path "
            "inside the model's folder"
        )
    if not (model_path.parent / rel).is_file():
        raise InvalidModelError(
            f"{model_path}: its external data file {location!r} is not beside it "
            f"({model_path.parent / rel} missing)"
        )
    return rel.as_posix()


def source_for(path: str | os.PathLike[str]) -> UploadSource:
    """How ``path`` is sent (see the module docstring). Raises :class:`InvalidModelError` for a
    missing path, a directory without exactly one ``.onnx``, or external data that cannot be
    packed."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        onnx_files = [p for p in files if p.suffix.lower() == ".onnx"]
        if len(onnx_files) != 1:
            raise InvalidModelError(
                f"{path}: a model folder must hold exactly one .onnx file "
                f"(found {len(onnx_files)})"
            )
        members = tuple((p.relative_to(path).as_posix(), p) for p in files)
        return UploadSource(f"{path.resolve().name or 'model'}.tar.gz", members, archive=True)
    if not path.is_file():
        raise InvalidModelError(f"{path}: no such file or folder")
    if path.suffix.lower() == ".onnx" and _has_neighbours(path):
        locations = external_data_files(path)
        if locations:
            members = ((path.name, path), *((loc, path.parent / loc) for loc in locations))
            return UploadSource(f"{path.stem}.tar.gz", members, archive=True)
    return UploadSource(path.name, ((path.name, path),), archive=False)


def _has_neighbours(path: Path) -> bool:
    """Whether anything else sits in ``path``'s folder (external data cannot be elsewhere)."""
    try:
        with os.scandir(path.parent) as entries:
            return any(e.name != path.name for e in entries)
    except OSError:
        return True


@dataclass(frozen=True)
class UploadBody:
    """The multipart body for ``source``: ``headers`` (content type, and length when known) and
    :meth:`chunks`; ``on_bytes(sent, total)`` is called as file bytes go out."""

    source: UploadSource
    on_bytes: Callable[[int, int | None], None] | None = None
    boundary: str = ""

    def __post_init__(self) -> None:
        if not self.boundary:
            object.__setattr__(self, "boundary", f"dnnfusion-{uuid.uuid4().hex}")

    def _head(self) -> bytes:
        name = self.source.filename.replace("\r", "").replace("\n", "").replace('"', "%22")
        return (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()

    def _tail(self) -> bytes:
        return f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def headers(self) -> dict[str, str]:
        out = {"Content-Type": f"multipart/form-data; boundary={self.boundary}"}
        size = self.source.size()
        if size is not None:
            out["Content-Length"] = str(len(self._head()) + size + len(self._tail()))
        return out

    def chunks(self) -> Iterator[bytes]:
        total = self.source.size()
        sent = 0
        yield self._head()
        for chunk in self.source.chunks():
            sent += len(chunk)
            if self.on_bytes is not None:
                self.on_bytes(sent, total)
            yield chunk
        yield self._tail()
