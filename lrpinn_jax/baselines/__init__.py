"""The paper's baselines, built from the shared pieces (PDE blocks, losses, metrics) and ONE
training loop (``fit.fit``):

  nets.py        PINN / PINN-P tanh MLPs and the Naive-LR-PINN (LR-PINN with U, V, s learnable)
  fit.py         the training loop (jitted Adam steps in lax.scan chunks, steps-to-target)
  s2s.py         sequence-to-sequence in time
  curriculum.py  curriculum over the PDE coefficients
  meta.py        MAML (second order, or first order) and Reptile meta-initialisation
"""
