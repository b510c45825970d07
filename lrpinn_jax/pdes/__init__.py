"""Built-in problems, written with the public Problem API (lrpinn_jax.problem): ``cdr`` (the
convection-diffusion-reaction family and its presets), ``helmholtz``, ``burgers``; ``reference``
(the CDR reference solutions), ``mu_sets`` (named sets of CDR mu), ``registry`` (problems by name,
``make_pde``, ``pde_of``)."""
