"""One BLAS thread for the LAPACK calls inside XLA's CPU programs.

On the CPU, JAX runs its LAPACK custom calls (the LM's Cholesky factorization and triangular
solves, eigendecompositions) through SciPy's OpenBLAS. By default OpenBLAS starts a thread per
core, and those threads compete with XLA's own thread pool, which already keeps every core
busy. With one OpenBLAS thread the batched many-query LM step per
mu takes 4.0 instead of 7.5 ms on a 2-core CPU (results/startup, "One BLAS thread").

OpenBLAS reads ``OPENBLAS_NUM_THREADS`` once, when the library loads; JAX loads SciPy's LAPACK on
the first program with a linear solve, after ``import lrpinn_jax``. A value the user set wins.
NumPy's own OpenBLAS is a separate library, loaded with ``import numpy`` before this module runs,
so NumPy keeps its threads; SciPy's BLAS and LAPACK, when loaded after ``import lrpinn_jax``, run
on one thread.
"""

import os

import numpy  # noqa: F401  (loaded first: NumPy's own BLAS keeps its default threads)

ENV_VAR = "OPENBLAS_NUM_THREADS"

os.environ.setdefault(ENV_VAR, "1")
