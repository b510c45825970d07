"""float64 (--x64, load(..., dtype=)): closed-form least squares to float64 accuracy.

jax_enable_x64 is process-wide, so the checks run in a subprocess."""

import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np
    from lrpinn_jax import precision
    from lrpinn_jax.io import interop
    from lrpinn_jax.fit import lm
    from lrpinn_jax.errors import UserError
    try:
      interop.load_official(interop.official_path("phase1.npz"), dtype=np.float64)
      raise SystemExit("float64 without x64 was accepted")
    except UserError:
      pass
    precision.enable_x64()
    assert precision.real() == jnp.float64
    # LM (library propose/judge) on a linear least-squares problem reaches numpy's float64
    # lstsq solution to 1e-8: float32 cannot (its rounding alone is about 1e-7 relative, and
    # the solve multiplies that by the condition number).
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 6)), rng.normal(size=40)
    th, r, loss, lam, nu = jnp.zeros(6), a @ np.zeros(6) - b, jnp.inf, 1e-3, 2.0
    jtj, jtr = lm.normal(r, a)
    for _ in range(30):
      v = lm.propose(jtj, jtr, lam)
      r_c = a @ (th + v) - b
      ok, lam, nu = lm.judge(loss, jnp.sum(r_c ** 2), lm.predicted_decrease(jtj, jtr, v), lam, nu)
      if ok:
        th, r, loss = th + v, r_c, jnp.sum(r_c ** 2)
        jtj, jtr = lm.normal(r, a)
    want = np.linalg.lstsq(a, b, rcond=None)[0]
    assert th.dtype == jnp.float64, th.dtype
    assert np.max(np.abs(np.asarray(th) - want)) < 1e-8, np.max(np.abs(np.asarray(th) - want))
    # The official checkpoint as a float64 Solver reproduces the authors' outputs.
    s = interop.load_official(interop.official_path("phase1.npz"), dtype=jnp.float64)
    assert all(v.dtype == jnp.float64 for v in jax.tree.leaves(s.params))
    e = np.load(interop.official_path("expected_phase1.npz"))
    u = s(e["x_beta40"], e["t_beta40"], np.array([40.0, 0.0, 0.0]))
    assert u.dtype == jnp.float64
    # atol as in test_official: the authors computed their outputs in float32
    np.testing.assert_allclose(np.asarray(u).ravel(), e["u_pred_beta40"].ravel(), atol=1e-4)
    print("ok")
""")


def test_float64_least_squares_and_official_solver():
  r = subprocess.run(
    [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120
  )
  assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr[-3000:]
