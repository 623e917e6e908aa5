"""What both code generation and the runtime must agree on about where an artifact runs.

- :mod:`~compiler_core.target.targets`: the compilation targets (``host``, ``linux-arm64``):
  compiler, flags, BLAS flavour, output file, emulator;
- :mod:`~compiler_core.target.blas`: which OpenBLAS kernel set a model library is loaded with
  (the build loads OpenBLAS to find its headers, the runtime to run a model);
- :mod:`~compiler_core.target.static_blas`: which SGEMM a build links (the host wheel's
  OpenBLAS, Debian's static arm64 OpenBLAS, or the portable C one) and the manifest's label;
- :mod:`~compiler_core.target.abi`: the return codes of a compiled model's entry points and the
  runner's exit code (written by the generated C, read by the runtime);
- :mod:`~compiler_core.target.procmaps`: which shared libraries the process has loaded.

A neutral layer: it imports nothing of ``codegen`` or ``runtime``, both import it.
"""
