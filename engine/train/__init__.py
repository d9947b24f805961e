"""Training: the loop, its control API for the UI, metrics, checkpoints and resume."""
