"""Reference solutions of the 1D CDR family (numpy, float64), computed by the project.

  u_t + beta u_x - nu u_xx - rho u (1 - u) = 0,  x in [lo, lo + L) periodic, t >= 0.

* ``fourier_cd``: convection-diffusion (rho = 0), exact in time: each Fourier mode of the initial
  grid values evolves by exp((-i k beta - nu k^2) t); evaluated at any x by the trigonometric
  interpolant. Exact for band-limited u0 (1 + sin x), spectrally accurate otherwise.
* ``logistic``: the exact flow of u' = rho u (1 - u) (pure reaction, and with convection along the
  characteristics x - beta t).
* ``strang_cdr``: reaction with diffusion: Strang splitting
      S(h) = R(h/2) o CD(h) o R(h/2),  R exact logistic (pointwise), CD exact Fourier step,
  second order in h; h is halved until the solution at the requested points changes by less than
  ``tol``. A point (x, t) between steps is reached by one partial step of size t - k h from the
  stored state at k h, its last half reaction step applied at the point itself.
"""

from __future__ import annotations

from typing import Callable, Tuple

import numpy as np

DEFAULT_GRID = 512
DEFAULT_TOL = 1e-6


def logistic(u0, rho, t):
  """Exact solution of u' = rho u (1 - u), u(0) = u0 (arrays broadcast)."""
  g = np.exp(rho * t)
  return u0 * g / (1.0 + u0 * (g - 1.0))


def _wavenumbers(n: int, length: float) -> np.ndarray:
  return 2.0 * np.pi / length * np.fft.fftfreq(n, 1.0 / n)


def _evaluate(coef: np.ndarray, x: np.ndarray, lo: float, length: float) -> np.ndarray:
  """Trigonometric interpolant with full-FFT coefficients coef (..., n) at x (...,)."""
  n = coef.shape[-1]
  k = _wavenumbers(n, length)
  if n % 2 == 0:  # split the Nyquist mode evenly so the interpolant is real
    k = k.copy()
    k[n // 2] = 0.0
    nyq = coef[..., n // 2] * np.cos(np.pi * n / length * (x - lo))
    coef = coef.copy()
    coef[..., n // 2] = 0.0
  else:
    nyq = 0.0
  phase = np.exp(1j * k * (x - lo)[..., None])
  return np.real(np.sum(coef * phase, axis=-1) + nyq) / n


def fourier_cd(
  u0_grid: np.ndarray, lo: float, length: float, x, t, beta: float, nu: float
) -> np.ndarray:
  """Convection-diffusion from initial grid values u0_grid (n,) at points x, t (same shape)."""
  x = np.asarray(x, np.float64)
  t = np.asarray(t, np.float64)
  k = _wavenumbers(u0_grid.shape[0], length)
  coef = np.fft.fft(u0_grid) * np.exp(np.multiply.outer(t, -1j * k * beta - nu * k**2))
  return _evaluate(coef, x, lo, length)


def _strang_once(u0_grid, lo, length, x, t, beta, nu, rho, n_steps, t_end) -> np.ndarray:
  n = u0_grid.shape[0]
  h = t_end / n_steps
  k = _wavenumbers(n, length)
  gen = -1j * k * beta - nu * k**2
  cd = np.exp(gen * h)
  idx = np.clip(np.floor(t / h).astype(int), 0, n_steps)
  tau = t - idx * h  # partial step left for each point, in [0, h)
  order = np.argsort(idx, kind="stable")
  states = np.empty((t.shape[0], n))
  v = u0_grid.copy()
  j = 0
  for step in range(n_steps + 1):
    while j < order.shape[0] and idx[order[j]] == step:
      states[order[j]] = v
      j += 1
    if j == order.shape[0] or step == n_steps:
      break
    v = logistic(v, rho, h / 2)
    v = np.real(np.fft.ifft(np.fft.fft(v) * cd))
    v = logistic(v, rho, h / 2)
  w = logistic(states, rho, tau[:, None] / 2)
  coef = np.fft.fft(w, axis=-1) * np.exp(tau[:, None] * gen)
  return logistic(_evaluate(coef, x, lo, length), rho, tau / 2)


def strang_cdr(
  u0: Callable,
  x_range: Tuple[float, float],
  x,
  t,
  beta: float,
  nu: float,
  rho: float,
  n_grid: int = DEFAULT_GRID,
  n_steps: int = 100,
  tol: float = DEFAULT_TOL,
  max_halvings: int = 12,
):
  """Full CDR by Strang splitting at points x, t (same shape). Returns (u, info) with
  info = {"n_steps", "change"}: the step count used and the max change from the previous halving.

  The time step starts at t_end / n_steps and halves until max |u_h - u_{h/2}| < tol.
  """
  x = np.asarray(x, np.float64)
  t = np.asarray(t, np.float64)
  shape = x.shape
  x, t = x.ravel(), t.ravel()
  lo, hi = x_range
  length = hi - lo
  grid = lo + length * np.arange(n_grid) / n_grid
  u0_grid = np.asarray(u0(grid), np.float64)
  t_end = max(float(np.max(t)), 1e-12)
  prev = _strang_once(u0_grid, lo, length, x, t, beta, nu, rho, n_steps, t_end)
  change = np.inf
  for _ in range(max_halvings):
    n_steps *= 2
    cur = _strang_once(u0_grid, lo, length, x, t, beta, nu, rho, n_steps, t_end)
    change = float(np.max(np.abs(cur - prev)))
    prev = cur
    if change < tol:
      break
  return prev.reshape(shape), {"n_steps": n_steps, "change": change}
