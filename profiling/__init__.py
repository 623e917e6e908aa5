"""The profiling database: device classes, devices, measured fusion micro-benchmarks and
profiling requests (SQLAlchemy 2 tables on the service's metadata, one Alembic history), the
queries over them, and :class:`~profiling.cost.ProfilingCostModel`, the planner's cost model
backed by it. ``compiler_core`` does not depend on this package; it plugs in behind
``compiler_core.planner.cost.CostModel``."""
