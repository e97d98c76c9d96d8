"""fpbench bench."""
