"""scripts/measure_spread.py: spread per full row identity, so two operating points are two rows."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from fpbench.results import row, to_frame

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "measure_spread.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("measure_spread", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def spread_tables(script):
    return script.spread_tables


def _run(tpr_1, tpr_2, psnr):
    return to_frame([row(method="m", model="g", metric="tpr_at_fpr", value=tpr_1, n=100, fpr=0.01),
                     row(method="m", model="g", metric="tpr_at_fpr", value=tpr_2, n=100, fpr=0.001),
                     row(method="m", model="g", metric="psnr", value=psnr, n=100, attack="noise",
                         attack_kind="image", param=0.0, severity=0)]).drop(columns=["seed"])


def test_operating_points_and_infinities(spread_tables):
    frames = {"ref": _run(0.8, 0.5, math.inf), "b": _run(0.8, 0.3, math.inf), "c": _run(0.8, 0.7, math.inf)}
    per_row, per_metric = spread_tables(frames, "ref")
    tpr = per_row[per_row["metric"] == "tpr_at_fpr"].set_index("fpr")
    assert tpr.loc[0.01, "std"] == 0 and tpr.loc[0.001, "std"] == pytest.approx(0.2)
    assert tpr.loc[0.001, "max_distance"] == pytest.approx(0.2) and (tpr["runs"] == 3).all()
    # 0.5 -> 0.3 is a shortfall of 0.2, 0.5 -> 0.7 none: the shortfall counts the bad direction only
    assert tpr.loc[0.001, "max_shortfall"] == pytest.approx(0.2)
    psnr = per_row[per_row["metric"] == "psnr"].iloc[0]
    assert psnr["max_distance"] == 0  # inf == inf: the same value, no distance


def test_shortfall_follows_the_metric_direction(spread_tables):
    """A better run widens the distance but not the shortfall; for a lower-is-better metric (FID) and a
    two-sided one (the clean control, ideal 0.5) "worse" means up and away from 0.5."""
    def run(acc, fid, control):
        return to_frame([row(method="m", model="g", metric="bit_accuracy", value=acc, n=10),
                         row(method="m", model="g", metric="fid", value=fid, n=10),
                         row(method="m", model="g", metric="control_bit_accuracy", value=control, n=10)]
                        ).drop(columns=["seed"])

    frames = {"ref": run(0.90, 10.0, 0.50), "up": run(0.99, 8.0, 0.46), "down": run(0.86, 11.0, 0.52)}
    per_row = spread_tables(frames, "ref")[0].set_index("metric")
    assert per_row.loc["bit_accuracy", "max_distance"] == pytest.approx(0.09)
    assert per_row.loc["bit_accuracy", "max_shortfall"] == pytest.approx(0.04)
    assert per_row.loc["fid", "max_shortfall"] == pytest.approx(1.0)
    assert per_row.loc["control_bit_accuracy", "max_shortfall"] == pytest.approx(0.04)


def test_the_central_run_is_the_most_typical_one(script):
    """Five runs of two rows: the run at each row's median is picked; a row that never moved (std 0) and a
    run missing a row do not break the choice; distances are in units of each row's spread, so a row that
    moves a lot does not outweigh one that moves little."""
    def run(acc, psnr, fid=5.0):
        rows = [row(method="m", model="g", metric="bit_accuracy", value=acc, n=10),
                row(method="m", model="g", metric="psnr", value=psnr, n=10)]
        rows += [row(method="m", model="g", metric="fid", value=fid, n=10)] if fid is not None else []
        return to_frame(rows).drop(columns=["seed"])

    frames = {"low": run(0.80, 30.0), "high": run(0.95, 30.9), "mid": run(0.88, 30.4), "near": run(0.87, 30.5),
              "other": run(0.90, 30.1, fid=None)}
    assert script.central_run(frames) == "mid"
    # mid's bit accuracy 0.07 below the median is > 1 std of that row; near's PSNR 0.1 dB above it < 1 std
    frames["mid"] = run(0.80, 30.4)
    assert script.central_run(frames) == "near"
