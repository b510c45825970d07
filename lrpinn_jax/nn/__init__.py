"""The networks: ``layers`` (LowRankDense, U diag(s) V^T with s an input), ``model``
(ModelConfig, the LR-PINN main network, the hypernetwork, point_fn)."""
