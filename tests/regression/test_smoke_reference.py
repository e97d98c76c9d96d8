"""CI gate on robustness numbers: recompute the smoke preset and compare with the committed reference.

The reference (reports/reference/smoke.csv) and its tolerances (smoke.tolerance.json, derived from the
run-to-run spread over seeds measured by scripts/measure_spread.py) are regenerated only on purpose:
`fpbench update-reference RUN_DIR --name smoke --spread spread.csv`. The check fails only when a metric
got worse beyond its tolerance or a reference row disappeared.
"""

import pytest

from bench.cache import ArtifactCache
from bench.presets import get_preset
from bench.runner import run
from reports.regression import REFERENCE_DIR, check_reference

pytestmark = pytest.mark.regression


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke-regression")
    cache = ArtifactCache(tmp_path_factory.mktemp("cache"))
    return run(get_preset("smoke"), out, cache=cache, progress=False).results


class TestSmokeReference:
    def test_reference_files_exist(self):
        assert (REFERENCE_DIR / "smoke.csv").is_file()
        assert (REFERENCE_DIR / "smoke.tolerance.json").is_file()

    def test_no_metric_got_worse(self, smoke_results):
        report = check_reference(smoke_results, "smoke")
        assert report.passed, report.summary()

    def test_check_is_direction_aware(self, smoke_results):
        worse = smoke_results.copy()
        rows = worse["metric"].eq("bit_accuracy") & worse["attack"].eq("none")
        assert rows.any()
        worse.loc[rows, "value"] -= 0.2
        assert not check_reference(worse, "smoke").passed
        better = smoke_results.copy()
        better.loc[rows, "value"] = (better.loc[rows, "value"] + 0.2).clip(upper=1.0)
        assert check_reference(better, "smoke").passed
