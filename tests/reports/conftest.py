"""A hand-made results table covering every attack kind, world and metric family the report renders."""

from __future__ import annotations

import pandas as pd
import pytest

from fpbench.evaluation.summary import robustness_auc_rows
from fpbench.results import Row, row, to_frame

FP = "artificial_fingerprint"
IMAGE_GRIDS = {
    "gaussian_noise": ((0.05, 0.1, 0.2), (0.85, 0.74, 0.64)),
    "jpeg": ((90.0, 50.0, 10.0), (0.90, 0.75, 0.57)),
}
MODEL_GRIDS = {
    "weight_noise": ((0.06, 0.12, 0.3), (0.96, 0.865, 0.70), (15.0, 19.0, 77.0)),
    "weight_rounding": ((3.0, 1.0, 0.0), (0.98, 0.975, 0.65), (14.1, 14.3, 83.0)),
}


def make_rows() -> list[Row]:
    rows: list[Row] = []
    for model, acc, fid, fid_clean in (("progan", 0.98, 14.38, 14.09), ("stylegan2", 0.99, 6.23, 6.41)):
        rows += [
            row(method=FP, model=model, metric="bit_accuracy", value=acc, n=500, stderr=0.002),
            row(method=FP, model=model, metric="p_value", value=3.2e-21, n=500),
            row(method=FP, model=model, metric="pass_rate", value=1.0, n=500, stderr=0.0),
            row(method=FP, model=model, metric="fid", value=fid, n=500, extractor="inception"),
            row(method=FP, model=f"{model}_clean", metric="fid", value=fid_clean, n=500,
                extractor="inception"),
        ]
        for world, det, att in (("closed", 1.0, 1.0), ("open", 1.0, 0.995)):
            rows += [
                row(method=FP, model=model, metric="detection_accuracy", value=det, n=400, world=world),
                row(method=FP, model=model, metric="attribution_accuracy", value=att, n=400, world=world,
                    stderr=0.003),
                row(method="yu2019", model=model, metric="detection_accuracy", value=0.5, n=400, world=world),
                row(method="yu2019", model=model, metric="attribution_accuracy",
                    value=0.997 if world == "closed" else 0.102, n=400, world=world),
            ]
        for fpr, tpr in ((0.001, 0.97), (0.01, 0.99), (0.1, 1.0)):
            rows.append(row(method=FP, model=model, metric="tpr_at_fpr", value=tpr, n=400, fpr=fpr))
    rows.append(row(method=FP, model="data", metric="bit_accuracy", value=1.0, n=500, stderr=0.0))
    for attack, (grid, accs) in IMAGE_GRIDS.items():
        for sev, (p, a) in enumerate(zip(grid, accs, strict=True)):
            for model, shift in (("progan", 0.0), ("data", 0.05)):
                rows.append(row(method=FP, model=model, attack=attack, attack_kind="image", param=p,
                                severity=sev, metric="bit_accuracy", value=min(a + shift, 1.0), n=500,
                                stderr=0.004, attack_version=1))
            rows.append(row(method=FP, model="progan", attack=attack, attack_kind="image", param=p,
                            severity=sev, metric="attribution_accuracy", value=1.0 - 0.1 * sev, n=400,
                            world="closed", attack_version=1))
            rows.append(row(method="yu2019", model="progan", attack=attack, attack_kind="image", param=p,
                            severity=sev, metric="attribution_accuracy", value=0.6 - 0.15 * sev, n=400,
                            world="closed", attack_version=1))
    for attack, (grid, accs, fids) in MODEL_GRIDS.items():
        for sev, (p, a, f) in enumerate(zip(grid, accs, fids, strict=True)):
            rows += [
                row(method=FP, model="progan", attack=attack, attack_kind="model", param=p, severity=sev,
                    metric="bit_accuracy", value=a, n=500, stderr=0.003, attack_version=1),
                row(method=FP, model="progan", attack=attack, attack_kind="model", param=p, severity=sev,
                    metric="fid", value=f, n=500, attack_version=1, extractor="inception"),
            ]
    rows += [
        row(method=FP, model="progan", attack="overwrite", attack_kind="adaptive", param=0.5, severity=0,
            metric="bit_accuracy", value=0.61, n=500, stderr=0.01),
        row(method=FP, model="progan", attack="overwrite", attack_kind="adaptive", param=0.5, severity=0,
            metric="psnr", value=31.2, n=500),
        row(method=FP, model="progan", attack="detectability_classifier", attack_kind="adaptive",
            metric="auc", value=0.55, n=400, severity=0, param=1000.0),
    ]
    return rows


@pytest.fixture(scope="session")
def sample_results() -> pd.DataFrame:
    """Shared, read-only: module-scoped fixtures render it once."""
    return to_frame(make_rows())


@pytest.fixture()
def results(sample_results) -> pd.DataFrame:
    """A fresh copy per test, free to modify."""
    return sample_results.copy()


@pytest.fixture(scope="session")
def summarised_results(sample_results) -> pd.DataFrame:
    """The sample plus its ``robustness_auc`` rows, as a run writes them (every table has rows). Shared,
    read-only; the regression tests keep the plain sample (their tolerances do not list the summary)."""
    return pd.concat([sample_results, to_frame(robustness_auc_rows(sample_results))], ignore_index=True)
