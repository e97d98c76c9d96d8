"""fpbench.stats against scipy: Wilson intervals, t-intervals, and the rows that carry them."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from fpbench.results import row
from fpbench.stats import mean_interval, over_seeds, wilson


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (487, 500), (1, 1000)])
def test_wilson_matches_scipy(k, n):
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson(k / n, n) == (pytest.approx(ref.low), pytest.approx(ref.high))


def test_mean_interval_matches_scipy():
    low, high = stats.t.interval(0.95, 9, loc=31.2, scale=0.4)
    assert mean_interval(31.2, 0.4, 9) == (pytest.approx(low), pytest.approx(high))
    assert mean_interval(0.99, 0.02, 9, bounded=True)[1] == 1.0
    assert all(math.isnan(v) for v in mean_interval(0.5, math.nan, 9))


def test_over_seeds_is_a_t_interval_of_the_mean():
    values = [0.9, 0.94, 0.97]
    mean, se, (low, high) = over_seeds(values)
    ref = stats.t.interval(0.95, 2, loc=sum(values) / 3, scale=stats.sem(values))
    assert (mean, se) == (pytest.approx(sum(values) / 3), pytest.approx(stats.sem(values)))
    assert (low, high) == (pytest.approx(ref[0]), pytest.approx(ref[1]))


class TestRowIntervals:
    @pytest.mark.parametrize("metric", ["pass_rate", "attribution_accuracy", "detection_accuracy", "tpr_at_fpr"])
    def test_rates_get_wilson(self, metric):
        r = row(method="m", model="g", metric=metric, value=0.75, n=200,
                fpr=0.01 if metric == "tpr_at_fpr" else math.nan)
        assert (r.ci_low, r.ci_high) == wilson(0.75, 200)

    def test_bit_accuracy_gets_a_t_interval_from_its_stderr(self):
        r = row(method="m", model="g", metric="bit_accuracy", value=0.9, n=50, stderr=0.01)
        assert (r.ci_low, r.ci_high) == mean_interval(0.9, 0.01, 49, bounded=True)

    def test_metrics_without_an_interval_stay_nan(self):
        r = row(method="m", model="g", metric="fid", value=3.0, n=50)
        assert math.isnan(r.ci_low) and math.isnan(r.ci_high)
