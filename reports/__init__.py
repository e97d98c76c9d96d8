"""fpbench reports."""
