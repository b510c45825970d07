"""The Solver under jit, vmap over mu and grad with respect to mu."""

import jax
import jax.numpy as jnp
import numpy as np

from lrpinn_jax.query.solver import Solver
from tests.conftest import FLOAT32_TWO_PROGRAMS


def test_solver_shapes_jit_and_vmap(official_phase1):
  solver = official_phase1
  x = jnp.linspace(0.1, 6.0, 12).reshape(3, 4)
  t = jnp.linspace(0.0, 1.0, 12).reshape(3, 4)
  mu = jnp.array([35.0, 0.0, 0.0])
  u = solver(x, t, mu)
  assert u.shape == (3, 4)
  # jit against eager: two compiled programs (conftest.FLOAT32_TWO_PROGRAMS says why not bitwise)
  np.testing.assert_allclose(jax.jit(solver)(x, t, mu), u, **FLOAT32_TWO_PROGRAMS)
  # a Solver is a pytree: it can be an argument of a jitted function
  np.testing.assert_allclose(
    jax.jit(lambda s, m: s(x, t, m))(solver, mu), u, **FLOAT32_TWO_PROGRAMS
  )
  mus = jnp.array([[30.0, 0, 0], [35.0, 0, 0], [40.0, 0, 0]])
  batched = jax.vmap(lambda m: solver(x, t, m))(mus)
  assert batched.shape == (3, 3, 4)
  np.testing.assert_allclose(batched[1], u, **FLOAT32_TWO_PROGRAMS)


def test_grad_wrt_mu_matches_finite_difference(official_phase1):
  solver = official_phase1
  x = jnp.linspace(0.1, 6.0, 50)
  t = jnp.linspace(0.05, 1.0, 50)
  f = lambda beta: jnp.mean(solver(x, t, jnp.stack([beta, 0.0, 0.0])) ** 2)
  beta = 35.3
  g = jax.jit(jax.grad(f))(jnp.float32(beta))
  h = 0.05
  fd = (f(jnp.float32(beta + h)) - f(jnp.float32(beta - h))) / (2 * h)
  assert abs(float(g)) > 1e-4
  np.testing.assert_allclose(float(g), float(fd), rtol=2e-2)


def test_phase2_solver_ranks():
  from lrpinn_jax.io import interop
  from tests.conftest import ref_path

  s2 = interop.load_official(ref_path("phase2_beta40.npz"))
  assert isinstance(s2, Solver) and "s" in s2.params
  assert s2.ranks([40.0, 0, 0]) == (29, 30, 34)
