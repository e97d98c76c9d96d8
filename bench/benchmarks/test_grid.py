"""One pytest item per (model x attack x severity) cell of the chosen preset (see bench.pytest_plugin)."""

import math

from bench.results import to_frame, validate


def test_grid_cell(fpbench_case, fpbench_session, benchmark):
    rows = benchmark.pedantic(fpbench_session.evaluate, args=(fpbench_case,), rounds=1, iterations=1)
    assert rows, f"no rows measured for {fpbench_case.id}"
    assert validate(to_frame(rows)) == []
    accuracy = [r.value for r in rows if r.metric == "bit_accuracy"]
    assert accuracy and all(0 <= a <= 1 and not math.isnan(a) for a in accuracy)
