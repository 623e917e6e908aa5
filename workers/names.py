"""The names of the workers' Celery tasks: all the API process knows of the workers (it sends
jobs by name, ``service/dispatch.py``)."""

COMPILE_TASK = "dnnfusion.compile"
REAP_TASK = "dnnfusion.reap"
