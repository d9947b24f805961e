"""Skill against real observations: read spots or signatures into arrays, predict them in one
batched pass, and compare the model with trivial baselines (engine.evaluate.run.evaluate)."""
