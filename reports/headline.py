"""The answers on top of the report: the handful of numbers that answer the paper's questions for a run.

Each :class:`Answer` quotes rows of results.csv (with their 95% interval where the row has one) and names
the report section it comes from. Nothing is estimated here: answers *select* rows (the stamped data, each
generator, the best passive baseline, the most damaging attack within a stated quality budget) and quote
them. The budgets are stated in the text: image attacks within ``ReportConfig.image_psnr_budget`` dB PSNR
of the unattacked image, model attacks while FID stays under ``model_fid_factor`` times the unattacked
model's, adaptive attacks at PSNR >= ``adaptive_psnr_budget`` dB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from fpbench.reports.config import DEFAULT_CONFIG, ReportConfig
from fpbench.reports.format import format_cell, format_number
from fpbench.reports.labels import param_text


@dataclass(frozen=True)
class Answer:
    question: str  # short: "Stamped data", "Transfer", ...
    text: str      # the answer, numbers quoted from rows
    section: str   # anchor of the report section it comes from


def quote(row: dict | pd.Series, metric: str | None = None) -> str:
    """``'0.989 ± 0.001'``: a row's value, ± half its 95% interval where it has one."""
    metric = metric or str(row["metric"])
    ci = (row.get("ci_low", math.nan), row.get("ci_high", math.nan))
    return format_cell(row["value"], row.get("stderr", math.nan), metric, ci=tuple(_float(c) for c in ci))


def _float(value: object) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _rows(results: pd.DataFrame, *, metric: str, attack: str | None = "none", world: str | None = None,
          **match: str) -> pd.DataFrame:
    rows = results[results["metric"] == metric]
    if attack is not None:
        rows = rows[rows["attack"] == attack]
    if world is not None:
        rows = rows[rows["world"].fillna("") == world]
    for col, value in match.items():
        rows = rows[rows[col] == value]
    return rows


def _one(rows: pd.DataFrame) -> dict | None:
    return rows.iloc[0].to_dict() if len(rows) else None


def _best(rows: pd.DataFrame, *, lowest: bool = False) -> dict | None:
    if rows.empty:
        return None
    order = rows.sort_values("value", ascending=lowest, kind="stable")
    return order.iloc[0].to_dict()


def _cell_name(row: dict, config: ReportConfig) -> str:
    return f"{row['attack']} ({param_text(row['attack'], row['param'], config.attack_labels)})"


def _generators(results: pd.DataFrame, config: ReportConfig) -> list[str]:
    fp = results[results["method"] == config.fingerprint_method]
    models = [m for m in fp["model"].unique()
              if m not in (config.data_model, config.real_model, "zoo") and not config.is_clean(m)]
    return sorted(models, key=config.model_rank)


def stamped(results: pd.DataFrame, config: ReportConfig) -> Answer | None:
    """Bit accuracy and PSNR of the fingerprinted training photos (paper: ~1.0 at ~32 dB)."""
    fp = dict(method=config.fingerprint_method, model=config.data_model)
    bits = _one(_rows(results, metric="bit_accuracy", **fp))
    if bits is None:
        return None
    text = f"bit accuracy {quote(bits)}"
    psnr = _one(_rows(results, metric="psnr", **fp))
    if psnr is not None:
        text += f", PSNR {quote(psnr)} dB against the original photos"
    return Answer("Stamped training data", f"{config.fingerprint_method}: {text}.", "transfer")


def transfer(results: pd.DataFrame, config: ReportConfig) -> Answer | None:
    """Bit accuracy of every fingerprinted generator's samples, and the clean control's (ideal 0.5)."""
    parts = []
    for model in _generators(results, config):
        row = _one(_rows(results, metric="bit_accuracy", method=config.fingerprint_method, model=model))
        if row is not None:
            parts.append(f"{model} {quote(row)}")
    controls = []
    for model in sorted(results["model"].unique(), key=config.model_rank):
        if not config.is_clean(model):
            continue
        row = _one(_rows(results, metric="control_bit_accuracy", method=config.fingerprint_method, model=model))
        fpr = _one(_rows(results, metric="false_positive_rate", method=config.fingerprint_method, model=model))
        if row is not None:
            controls.append(f"{model} {quote(row)} (ideal 0.5)"
                            + (f", false positives {quote(fpr)}" if fpr is not None else ""))
    if not parts and not controls:
        return None
    text = ("bit accuracy of generated samples: " + ", ".join(parts) + "." if parts else
            "no fingerprinted generator was measured.")
    if controls:
        text += " Clean control: " + "; ".join(controls) + "."
    return Answer("Transfer to generators", text, "transfer")


def versus_baselines(results: pd.DataFrame, config: ReportConfig, metric: str) -> list[Answer]:
    """The fingerprint's attribution (or detection) accuracy next to the best passive baseline's, closed
    world over the whole zoo, open world per held-out generator."""
    noun = metric.split("_")[0]  # attribution / detection
    out = []
    worlds = sorted(w for w in results.loc[results["metric"] == metric, "world"].fillna("").unique())
    for world in worlds:
        rows = _rows(results, metric=metric, world=world)
        models = ["zoo"] if (rows["model"] == "zoo").any() else sorted(
            (m for m in rows["model"].unique() if m != config.data_model), key=config.model_rank)
        parts = []
        for model in models:
            here = rows[rows["model"] == model]
            ours = _one(here[here["method"] == config.fingerprint_method])
            theirs = _best(here[here["method"].isin(config.baseline_methods)])
            if ours is None and theirs is None:
                continue
            where = "all generators" if model == "zoo" else (f"unseen {model}" if world == "open" else model)
            mine = f"fingerprint {quote(ours)}" if ours is not None else "fingerprint not measured"
            best = (f"best passive baseline {theirs['method']} {quote(theirs)}" if theirs is not None
                    else "no baseline measured")
            parts.append(f"{where}: {mine}, {best}")
        if parts:
            label = f"{noun.capitalize()}, {world} world" if world else noun.capitalize()
            out.append(Answer(label, "; ".join(parts) + ".", "baselines"))
    return out


def _wide(results: pd.DataFrame, kind: str, method: str, metrics: tuple[str, ...]) -> pd.DataFrame:
    rows = results[(results["attack_kind"] == kind) & (results["method"] == method)
                   & results["metric"].isin(metrics)]
    if rows.empty:
        return pd.DataFrame()
    keep = ["model", "attack", "param", "metric", "value", "stderr", "ci_low", "ci_high"]
    rows = rows[[c for c in keep if c in rows.columns]]
    values = rows.pivot_table(index=["model", "attack", "param"], columns="metric", values="value",
                              dropna=False).reset_index()
    if not set(metrics) <= set(values.columns):  # e.g. no PSNR measured: no budget can be applied
        return pd.DataFrame()
    return values.dropna(subset=list(metrics))


def _cell_row(results: pd.DataFrame, method: str, cell: dict, metric: str) -> dict:
    rows = results[(results["method"] == method) & (results["model"] == cell["model"])
                   & (results["attack"] == cell["attack"]) & (results["param"] == cell["param"])
                   & (results["metric"] == metric)]
    return rows.iloc[0].to_dict()


def strongest_image_attack(results: pd.DataFrame, config: ReportConfig) -> Answer | None:
    """Lowest bit accuracy over image-attack cells whose attacked images keep PSNR >= the budget."""
    method, budget = config.fingerprint_method, config.image_psnr_budget
    wide = _wide(results, "image", method, ("bit_accuracy", "psnr"))
    if wide.empty:
        return None
    ok = wide[wide["psnr"] >= budget]
    if ok.empty:
        return Answer("Strongest image attack", f"no image attack keeps PSNR >= {budget:g} dB.", "robustness")
    cell = ok.sort_values(["bit_accuracy", "psnr"], ascending=[True, False], kind="stable").iloc[0].to_dict()
    row = _cell_row(results, method, cell, "bit_accuracy")
    return Answer("Strongest image attack",
                  f"within PSNR >= {budget:g} dB of the unattacked image: {_cell_name(row, config)} on "
                  f"{row['model']}, bit accuracy {quote(row)} (PSNR {format_number(cell['psnr'], 'psnr')} dB).",
                  "robustness")


def strongest_model_attack(results: pd.DataFrame, config: ReportConfig) -> Answer | None:
    """Lowest bit accuracy over model-attack cells whose FID stays under ``model_fid_factor`` x the
    unattacked model's FID."""
    method, factor = config.fingerprint_method, config.model_fid_factor
    wide = _wide(results, "model", method, ("bit_accuracy", "fid"))
    if wide.empty:
        return None
    clean = _rows(results, metric="fid", method=method).groupby("model")["value"].first()
    ok = wide[[m in clean.index and fid < factor * clean[m] for m, fid in zip(wide["model"], wide["fid"],
                                                                             strict=True)]]
    title = "Strongest model attack"
    if ok.empty:
        return Answer(title, f"every model attack at least {factor:g}x the unattacked model's FID.", "model-attacks")
    cell = ok.sort_values(["bit_accuracy", "fid"], ascending=[True, True], kind="stable").iloc[0].to_dict()
    row = _cell_row(results, method, cell, "bit_accuracy")
    return Answer(title,
                  f"while FID stays under {factor:g}x the unattacked model's: {_cell_name(row, config)} on "
                  f"{row['model']}, bit accuracy {quote(row)} (FID {format_number(cell['fid'], 'fid')} against "
                  f"{format_number(clean[cell['model']], 'fid')} unattacked).", "model-attacks")


def strongest_adaptive_attack(results: pd.DataFrame, config: ReportConfig) -> Answer | None:
    """Highest attack success rate at PSNR >= the budget, removal and forgery separately."""
    method, budget = config.fingerprint_method, config.adaptive_psnr_budget
    wide = _wide(results, "adaptive", method, ("attack_success_rate", "psnr"))
    if wide.empty:
        return None
    neutral = {a: lab.neutral for a, lab in config.attack_labels.items()}
    wide = wide[[neutral.get(a) is None or p != neutral[a] for a, p in zip(wide["attack"], wide["param"],
                                                                           strict=True)]]
    ok = wide[wide["psnr"] >= budget]
    parts = []
    for goal, mask in (("removal", ~ok["attack"].str.startswith("forgery")),
                       ("forgery", ok["attack"].str.startswith("forgery"))):
        if not mask.any():
            continue
        cell = ok[mask].sort_values(["attack_success_rate", "psnr"], ascending=[False, False],
                                    kind="stable").iloc[0].to_dict()
        row = _cell_row(results, method, cell, "attack_success_rate")
        parts.append(f"{goal}: {_cell_name(row, config)} on {row['model']}, success {quote(row)} "
                     f"(PSNR {format_number(cell['psnr'], 'psnr')} dB)")
    text = (f"at PSNR >= {budget:g} dB: " + "; ".join(parts) + "." if parts else
            f"no adaptive attack keeps PSNR >= {budget:g} dB.")
    return Answer("Strongest adaptive attack", text, "adaptive")


def detectability(results: pd.DataFrame, config: ReportConfig) -> Answer | None:
    """How well an adversary's classifier tells stamped from clean images: the highest detection accuracy
    over the detectability attacks, with the fewest training images that reach it."""
    rows = results[(results["method"] == config.fingerprint_method) & (results["attack_kind"] == "adaptive")
                   & results["attack"].str.startswith("detectability") & (results["metric"] == "detection_accuracy")]
    if rows.empty:
        return None
    row = rows.sort_values(["value", "param"], ascending=[False, True], kind="stable").iloc[0].to_dict()
    return Answer("Detectability",
                  f"an adversary's classifier tells stamped from clean images at accuracy {quote(row)} "
                  f"({_cell_name(row, config)}, {row['model']}; chance 0.5).", "adaptive")


def headline(results: pd.DataFrame, config: ReportConfig = DEFAULT_CONFIG) -> list[Answer]:
    """The answers, in the paper's order: Table 1, Fig. 3, Table 2, then the threats beyond the paper."""
    answers = [stamped(results, config), transfer(results, config),
               *versus_baselines(results, config, "attribution_accuracy"),
               *versus_baselines(results, config, "detection_accuracy"),
               strongest_image_attack(results, config), strongest_model_attack(results, config),
               strongest_adaptive_attack(results, config), detectability(results, config)]
    return [a for a in answers if a is not None]
