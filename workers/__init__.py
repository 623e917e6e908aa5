"""Compilation workers: Celery tasks (``celery_app.py``, ``tasks.py``) and the in-process worker
of ``dnnfusion serve`` (``embedded.py``), both running ``compile_job.run_compilation``, which
calls the compiler through ``compile_step.py`` only. ``reaper.py`` keeps jobs from being stuck.
"""
