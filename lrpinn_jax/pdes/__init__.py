"""Built-in parameterized problems written with the public Problem API (lrpinn_jax.problem)."""
