"""The benchmark grid as pytest items: one per (model x attack x severity) cell of a preset.

Not a test of fpbench: the module pytest collects for a pytest-driven benchmark run (the options and the
session fixture are in ``fpbench.pipeline.pytest_plugin``)::

    pytest --pyargs fpbench.pipeline.benchmark_grid --fpbench-preset smoke --fpbench-out runs/grid -k jpeg
"""

import math

from fpbench.results import to_frame, validate


def test_grid_cell(  # collected when this module is named on the command line
        fpbench_case, fpbench_session, benchmark):
    rows = benchmark.pedantic(fpbench_session.evaluate, args=(fpbench_case,), rounds=1, iterations=1)
    assert rows, f"no rows measured for {fpbench_case.id}"
    assert validate(to_frame(rows)) == []
    accuracy = [r.value for r in rows if r.metric == "bit_accuracy"]
    assert accuracy and all(0 <= a <= 1 and not math.isnan(a) for a in accuracy)
