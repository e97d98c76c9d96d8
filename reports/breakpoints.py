"""Model attacks: does the fingerprint die before or after the model is ruined (the paper's argument)?

For each (method, model, attack), walking the grid from weakest to strongest: the first value at which the
fingerprint falls under the decision threshold (``pass_rate`` < 0.5: most samples no longer detected)
and the first value at which FID has doubled relative to the unattacked model (``attack == "none"``).
Selection only: every number comes from results.csv.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from fpbench.atomic import write_atomic, write_text_atomic
from fpbench.reports.format import format_number, to_latex, to_markdown
from fpbench.reports.labels import AttackLabels, param_text

COLUMNS = ["method", "model", "attack", "clean_fid", "fingerprint_fails_at", "fid_doubles_at", "verdict"]


def _first(levels: pd.DataFrame, mask: pd.Series) -> float:
    hit = levels[mask]
    return float(hit["param"].iloc[0]) if len(hit) else math.nan


def model_attack_breakpoints(results: pd.DataFrame) -> pd.DataFrame:
    model_rows = results[results["attack_kind"] == "model"]
    if model_rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    clean_fid = results[(results["attack"] == "none") & (results["metric"] == "fid")]
    clean_fid = clean_fid.groupby(["method", "model"])["value"].first()
    out = []
    for (method, model, attack), g in model_rows.groupby(["method", "model", "attack"], sort=True):
        wide = g.pivot_table(index=["severity", "param"], columns="metric", values="value").reset_index()
        wide = wide.sort_values("severity")
        if "pass_rate" not in wide or "fid" not in wide or (method, model) not in clean_fid:
            continue
        base = float(clean_fid[(method, model)])
        fails = _first(wide, wide["pass_rate"] < 0.5)
        doubles = _first(wide, wide["fid"] >= 2 * base)
        sev = {float(p): int(s) for s, p in zip(wide["severity"], wide["param"], strict=True)}
        if math.isnan(fails):
            verdict = "fingerprint survives the whole grid"
        elif math.isnan(doubles):
            verdict = "fingerprint fails before FID doubles"
        elif sev[fails] > sev[doubles]:
            verdict = "fingerprint outlives model quality"
        elif sev[fails] == sev[doubles]:
            verdict = "both at the same severity"
        else:
            verdict = "fingerprint fails first"
        out.append({"method": method, "model": model, "attack": attack, "clean_fid": base, "fingerprint_fails_at": fails,
                    "fid_doubles_at": doubles, "verdict": verdict})
    return pd.DataFrame(out, columns=COLUMNS)


def display(table: pd.DataFrame, labels: AttackLabels | None = None) -> pd.DataFrame:
    def at(attack: str, value: float) -> str:
        return "never" if math.isnan(value) else param_text(attack, value, labels)

    return pd.DataFrame({
        "method": table["method"], "model": table["model"], "attack": table["attack"],
        "FID ↓ unattacked": [format_number(v, "fid") for v in table["clean_fid"]],
        "fingerprint fails at (pass rate < 0.5)": [at(a, v) for a, v in zip(table["attack"], table["fingerprint_fails_at"], strict=True)],
        "FID doubles at": [at(a, v) for a, v in zip(table["attack"], table["fid_doubles_at"], strict=True)],
        "verdict": table["verdict"],
    })


def write_breakpoints(results: pd.DataFrame, out_dir: Path) -> list[Path]:
    """``model_attack_breakpoints.{csv,md,tex}`` in ``out_dir``; nothing (and stale files removed) without rows."""
    table = model_attack_breakpoints(results)
    names = [out_dir / f"model_attack_breakpoints.{ext}" for ext in ("csv", "md", "tex")]
    if table.empty:
        for path in names:
            path.unlink(missing_ok=True)
        return []
    shown = display(table)
    title = "Model attacks: where the fingerprint fails vs where FID doubles"
    return [write_atomic(names[0], lambda p: table.to_csv(p, index=False, float_format="%.10g")),
            write_text_atomic(names[1], f"### {title}\n\n" + to_markdown(shown)),
            write_text_atomic(names[2], to_latex(shown, caption=title, label="tab:model-attack-breakpoints"))]
