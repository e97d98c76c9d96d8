"""CI gate on robustness numbers: recompute the smoke preset and compare with the committed reference.

The reference (reports/reference/smoke.csv) and its tolerances (smoke.tolerance.json, derived from the
run-to-run spread over seeds measured by scripts/measure_spread.py) are regenerated only on purpose:
`fpbench update-reference RUN_DIR --name smoke --out reports/reference --spread spread.csv`. The check fails only when a metric
got worse beyond its tolerance or a reference row disappeared.
"""

import pytest
import torch

from fpbench.cache import ArtifactCache
from fpbench.pipeline.presets import get_preset
from fpbench.pipeline.runner import run
from fpbench.reports.regression import REFERENCE_DIR, check_reference, load_reference

pytestmark = pytest.mark.regression
THREADS = 1  # the reference was computed with one torch thread; other counts change float rounding


def smoke_run(out, cache_dir):
    """The smoke preset exactly as the reference was made (also used to regenerate it)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        return run(get_preset("smoke"), out, cache=ArtifactCache(cache_dir), progress=False)
    finally:
        torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    return smoke_run(tmp_path_factory.mktemp("smoke-regression"), tmp_path_factory.mktemp("cache")).results


class TestSmokeReference:
    def test_reference_files_exist(self):
        assert (REFERENCE_DIR / "smoke.csv").is_file()
        assert (REFERENCE_DIR / "smoke.tolerance.json").is_file()

    def test_no_metric_got_worse(self, smoke_results):
        report = check_reference(smoke_results, "smoke")
        assert report.passed, report.summary()

    def test_check_is_direction_aware(self):
        reference, _ = load_reference("smoke")
        assert check_reference(reference, "smoke").passed
        rows = reference["metric"].eq("bit_accuracy") & reference["attack"].eq("none")
        assert rows.any()
        worse = reference.copy()
        worse.loc[rows, "value"] -= 0.2
        assert not check_reference(worse, "smoke").passed
        better = reference.copy()
        better.loc[rows, "value"] += 0.2
        assert check_reference(better, "smoke").passed
