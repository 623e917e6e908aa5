"""Fuzzing kept in the repository (issue #8, hardening).

* ``python -m fuzz mutate``: mutated ONNX files and archives (bit flips, byte edits, protobuf
  field edits, archive tricks) through ``dnnfusion plan`` and ``POST /api/v1/models``; every
  outcome must be a clean success or a one-line refusal.
* ``python -m fuzz diff``: random small graphs of the supported operators compiled for the host
  and compared with ONNX Runtime on the same random inputs.

Inputs run in a child process (:mod:`fuzz.child`) with a time bound, so a hang or a crash is
counted and saved to ``fuzz/corpus/regressions/`` instead of stopping the run.
"""
