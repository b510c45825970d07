"""Training: ``losses`` (residual blocks, mean squares, orthogonality), ``phase1`` and ``phase2``
(the pure steps), ``lm`` (Levenberg-Marquardt), ``soap``, ``train`` (loops: progress,
checkpoints, resume), ``sharding``, ``data`` (point counts and test sets), ``recipes`` (the tuned
settings), ``experiment`` (a whole run: Phase 1, zero-shot, Phase 2, results.json),
``finetune`` (Phase 2 of a saved model)."""
