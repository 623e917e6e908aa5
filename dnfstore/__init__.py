"""The persistence the API process and the workers share (``service -> dnfstore <- workers``).

- ``settings``: the one pydantic-settings class of a deployment (database, storage, Redis,
  limits), read from the environment;
- ``base``: the declarative ``Base`` every table is declared on, ``UTCDateTime``, ``utcnow``;
- ``models``: users, API keys, models, compilations; ``profiling_models``: device classes,
  devices, profile entries, profiling requests (one metadata, one Alembic history in
  ``migrations/``; ``models`` imports ``profiling_models`` so either import registers all);
- ``db``: engine and session factories; ``migrate``: ``alembic upgrade`` from Python;
- ``compilations``: the queries on compilation jobs both sides run;
- ``storage``: the file store of uploads, artifacts and reports.

It imports nothing of ``service``, ``workers``, ``profiling`` or ``compiler_core``.
"""
