"""Files: ``checkpoint`` (orbax checkpoints, model.json, load), ``interop`` (the authors'
official checkpoints), ``cache`` (the persistent XLA compilation cache)."""
