"""The commands: ``python -m experiments.<command>`` in the source tree; installed, the wheel
ships this folder as ``lrpinn_jax.commands`` and ``lrpinn-jax <command>`` runs them
(lrpinn_jax/__main__.py). The modules import each other relatively so both names work."""
