"""fpbench baselines."""
