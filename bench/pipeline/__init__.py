"""The top floor: presets and run configs, the stages, the runner, the CLI and the pytest plugin. It
composes the core (``fpbench``'s foundations), ``fpbench.attacks`` and ``fpbench.baselines`` into a run, and
hands results.csv and manifest.json to ``fpbench.reports``."""
