"""Answers from a trained model: ``solver`` (Solver: u(*coords, mu), jit / vmap / d/dmu),
``many_query`` (Phase 2 for many mu in one program), ``inverse`` (mu from data), ``uq``
(statistics of u over random mu), ``design`` (mu for a target)."""
