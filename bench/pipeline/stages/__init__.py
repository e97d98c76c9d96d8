"""The stages of one benchmark run, in data-flow order; each reads and extends a RunContext."""
