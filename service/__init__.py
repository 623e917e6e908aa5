"""The compilation service: FastAPI app (see ``main.create_app``) on the store it shares with
the workers (``dnfstore``: tables, sessions, settings, storage).

Flow of an upload: ``api/routes/models.py`` -> ``upload.py`` (stream to storage) ->
``ingest.py`` (``archive.py`` safe extraction, ``validation.py`` ONNX checks) -> ``crud/``.
Flow of a compilation: ``api/routes/compilations.py`` -> ``dnfstore/compilations.py`` (commit) ->
``dispatch.py`` (by task name) -> ``workers/`` -> ``compiler_core``.
Of ``workers`` the service imports only the task names (``workers/names.py``); ``dnnfusion
serve`` passes it the embedded worker.
"""
