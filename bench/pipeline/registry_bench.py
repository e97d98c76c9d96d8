"""The scale study of issue 18: attribution among M registered fingerprints (``fpbench registry-bench``).

:func:`registry_bench` measures, for every fingerprint length n (``bits``) and registry size M (``sizes``),
with M uniformly random registered fingerprints:

* **latency**: milliseconds per query of :meth:`FingerprintRegistry.attribute
  <fpbench.fingerprint.fingerprint_registry.FingerprintRegistry.attribute>` (backends torch and faiss)
  and of today's dense :func:`fpbench.fingerprint.matching.attribute` (only for M <= ``dense_max``: it
  holds an N x M float matrix), in one run, so ``speedup_vs_dense`` compares like with like;
* **false attribution**: the share of clean queries (uniform random bits, as decoded from an image that
  carries no fingerprint) attributed to some registered fingerprint, with its exact 95% Clopper-Pearson
  interval, against :func:`~fpbench.fingerprint.fingerprint_registry.analytic_false_attribution`;
* **attribution accuracy**: synthetic "zoo samples" (the real zoo is not needed): registered fingerprint 0
  with each bit flipped independently with probability p, among M-1 random decoys; the share attributed
  to index 0, against the analytic prediction P(K >= k*), K ~ Bin(n, 1-p), k* =
  ``min_correct_bits(n, alpha / M)``. The prediction ignores the (tiny, for n >= 48) chance that a decoy
  agrees with the query at least as well as fingerprint 0 and steals the attribution.

Everything is seeded: the random fingerprints and queries of cell (n, M) come from a torch.Generator
seeded from (seed, n, M, purpose), so a cell does not depend on which other cells were run.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fpbench.fingerprint.fingerprint_registry import (
    FingerprintRegistry,
    _faiss_available,
    analytic_false_attribution,
)
from fpbench.fingerprint.matching import NO_MATCH, attribute, min_correct_bits
from fpbench.reports.plots import _new_figure as new_figure
from fpbench.reports.plots import _save as save_figure

BACKENDS = ("torch", "faiss", "dense")
FLIP_PROBABILITIES = (0.02, 0.1, 0.2)
MIN_CLEAN_QUERIES = 20000
LATENCY_NOISE = 0.1  # share of bits flipped in the "registered" half of the latency queries
REPEATS = 3
WARMUP_QUERIES = 8
LATENCY_COLUMNS = ["n_bits", "M", "backend", "ms_per_query", "queries", "status", "speedup_vs_dense"]
FALSE_COLUMNS = ["n_bits", "M", "clean_queries", "false_attributions", "empirical", "ci_low", "ci_high",
                 "analytic", "expected_count", "within_band"]
ACCURACY_COLUMNS = ["n_bits", "M", "p_flip", "queries", "correct", "accuracy", "analytic", "threshold_bits"]
_PURPOSE = {"registry": 1, "latency": 2, "clean": 3, "accuracy": 4}


def _generator(seed: int, n_bits: int, m: int, purpose: str) -> torch.Generator:
    state = np.random.SeedSequence([seed, n_bits, m, _PURPOSE[purpose]]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def _random_bits(n: int, n_bits: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, (n, n_bits), generator=gen, dtype=torch.uint8)


def _flip(bits: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    mask = (torch.rand(bits.shape, generator=gen) < p).to(torch.uint8)
    return bits ^ mask


def _positive_ints(values: object, name: str, example: str) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"{name} must be a list of positive integers like {example}, got {values!r}")
    if not values:
        raise ValueError(f"{name} is empty: give at least one positive integer, like {example}")
    out = []
    for v in values:
        ok = (isinstance(v, numbers.Integral) and not isinstance(v, bool)) or (
            isinstance(v, float) and math.isfinite(v) and v.is_integer())
        if not ok or int(v) < 1:
            raise ValueError(f"{name} must hold positive integers (like {example}), got {v!r}; "
                             "write whole numbers >= 1")
        out.append(int(v))
    return tuple(out)


def _check_inputs(sizes, bits, queries, backends, alpha, dense_max):
    sizes = _positive_ints(sizes, "sizes", "[1000, 10000]")
    bits = _positive_ints(bits, "bits", "[48, 100]")
    if isinstance(queries, bool) or not isinstance(queries, numbers.Integral) or queries < 1:
        raise ValueError(f"queries must be a whole number >= 1, got {queries!r}")
    backends = (backends,) if isinstance(backends, str) else tuple(backends)
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or not backends:
        raise ValueError(f"backends must be some of {', '.join(BACKENDS)}, got {list(backends)!r}")
    if not (isinstance(alpha, numbers.Real) and 0 < alpha <= 1):
        raise ValueError(f"alpha must be a number in (0, 1], like 1e-6, got {alpha!r}")
    if isinstance(dense_max, bool) or not isinstance(dense_max, numbers.Integral) or dense_max < 0:
        raise ValueError(f"dense_max must be a whole number >= 0, got {dense_max!r}")
    return sizes, bits, int(queries), backends, float(alpha), int(dense_max)


def _best_ms(fn: Callable[[torch.Tensor], object], queries: torch.Tensor) -> float:
    """Milliseconds per query: one warm-up call on a few queries, then the best of REPEATS full calls."""
    fn(queries[:WARMUP_QUERIES])
    best = math.inf
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn(queries)
        best = min(best, time.perf_counter() - t0)
    return best / queries.shape[0] * 1e3


def _clopper_pearson(k: int, n: int) -> tuple[float, float]:
    from scipy.stats import binomtest  # noqa: PLC0415 (keeps importing this module light)

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return float(ci.low), float(ci.high)


def _consistent(k: int, n: int, analytic: float, low: float, high: float) -> bool:
    """The ``within_band`` rule, see :func:`registry_bench`."""
    if analytic <= 0.0:
        return k == 0
    if n * analytic >= 1.0:
        return low <= analytic <= high
    from scipy.stats import binomtest  # noqa: PLC0415

    return binomtest(k, n, analytic, alternative="greater").pvalue >= 0.025


def _analytic_accuracy(n_bits: int, p: float, k_star: int) -> float:
    from scipy.stats import binom  # noqa: PLC0415

    return float(binom.sf(k_star - 1, n_bits, 1.0 - p))  # P(K >= k*), K ~ Bin(n, 1-p)


def registry_bench(
    sizes: Sequence[int],
    bits: Sequence[int] = (48, 100),
    *,
    queries: int = 1000,
    backends: Sequence[str] = BACKENDS,
    alpha: float = 1e-6,
    seed: int = 0,
    dense_max: int = 10**5,
    out_dir: str | Path | None = None,
    progress: bool = True,
    max_pairs: int = 10**9,
) -> dict[str, pd.DataFrame]:
    """Run the scale study; returns ``{"latency", "false_attribution", "attribution"}`` DataFrames.

    ``sizes``: registry sizes M; ``bits``: fingerprint lengths n; ``queries``: queries per latency cell
    (half a registered fingerprint with ~10% of its bits flipped, half uniform random) and per flip
    probability of the accuracy table; ``backends``: some of torch, faiss, dense (faiss gets a row with
    status "not installed" when it does not import; dense gets "skipped: memory" for M > ``dense_max``);
    ``alpha``: the significance level of the attribution rule (Bonferroni over M).

    Latency: registry built outside the timed part, one warm-up call on a few queries, best of 3 full
    calls. ``speedup_vs_dense`` = dense ms / backend ms where dense was measured in the same cell.
    ``status`` is "ok", or "MISMATCH" when a registry backend disagrees with dense on the best match's
    number of agreeing bits (a bug).

    False attribution: ``max(queries, 20000)`` clean queries, fewer where M is large so a cell stays
    quick (at most ``max_pairs`` query x fingerprint comparisons, never fewer than ``queries``).
    ``within_band`` rule: where the expected count ``clean_queries * analytic`` is >= 1, the analytic rate
    lies inside the exact (Clopper-Pearson) 95% interval of the empirical rate; where it is < 1 (0 false
    attributions are expected), the observed count is not significantly high: the one-sided exact binomial
    test of "count >= observed" under the analytic rate has p >= 0.025 (so 0 always passes; an analytic
    rate of exactly 0 needs a count of 0). The interval covers the sampling of the clean queries only:
    the one random registry drawn adds a little variance (overlaps of the Hamming balls around the
    registered fingerprints, visible only for short fingerprints at large rates, e.g. n = 16), and a 95%
    band misses about 1 cell in 20 by chance.

    Accuracy: ``queries`` queries per flip probability p in (0.02, 0.1, 0.2); ``analytic`` ignores the
    chance that a decoy wins (see the module docstring).

    ``out_dir``: writes latency.csv, false_attribution.csv, attribution.csv, latency.png,
    false_attribution.png, attribution.png and report.md (the three tables and plots on one page) there. Bad input raises ValueError before any work.
    """
    sizes, bits, queries, backends, alpha, dense_max = _check_inputs(sizes, bits, queries, backends, alpha,
                                                                    dense_max)
    if isinstance(max_pairs, bool) or not isinstance(max_pairs, numbers.Integral) or max_pairs < 1:
        raise ValueError(f"max_pairs must be a whole number >= 1, got {max_pairs!r}")
    out = None
    if out_dir is not None:
        from fpbench.pipeline.cli import check_output_folder  # noqa: PLC0415 (cli imports this module lazily)

        out = check_output_folder(Path(out_dir), "out_dir")
    from tqdm.auto import tqdm  # noqa: PLC0415

    faiss_ok = "faiss" in backends and _faiss_available()
    latency, false_rows, accuracy = [], [], []
    cells = [(n, m) for n in bits for m in sizes]
    for n_bits, m in tqdm(cells, desc="registry-bench", unit="cell", disable=not progress):
        fps = _random_bits(m, n_bits, _generator(seed, n_bits, m, "registry"))
        ids = [f"fp{i}" for i in range(m)]
        reg = FingerprintRegistry(n_bits, backend="torch")
        reg.add(ids, fps)

        # latency
        gen = _generator(seed, n_bits, m, "latency")
        n_reg = queries // 2
        picks = torch.randint(0, m, (n_reg,), generator=gen)
        q = torch.cat([_flip(fps[picks], LATENCY_NOISE, gen), _random_bits(queries - n_reg, n_bits, gen)])
        rows: dict[str, dict] = {}
        results: dict[str, torch.Tensor] = {}
        for backend in backends:
            row = {"n_bits": n_bits, "M": m, "backend": backend, "ms_per_query": math.nan, "queries": queries,
                   "status": "ok", "speedup_vs_dense": math.nan}
            if backend == "faiss" and not faiss_ok:
                row["status"] = "not installed"
            elif backend == "dense" and m > dense_max:
                row["status"] = f"skipped: memory (M > dense_max={dense_max})"
            elif backend == "dense":
                f = fps.float()
                row["ms_per_query"] = _best_ms(lambda x, f=f: attribute(x, f, alpha), q.float())
                results[backend] = attribute(q.float(), f, alpha).n_correct
            else:
                r = reg
                if backend == "faiss":
                    r = FingerprintRegistry(n_bits, backend="faiss")
                    r.add(ids, fps)
                row["ms_per_query"] = _best_ms(lambda x, r=r: r.attribute(x, alpha), q)
                results[backend] = r.attribute(q, alpha).n_correct
            rows[backend] = row
        dense_ms = rows.get("dense", {}).get("ms_per_query", math.nan)
        for backend, row in rows.items():
            row["speedup_vs_dense"] = dense_ms / row["ms_per_query"]
            if backend != "dense" and "dense" in results and backend in results \
                    and not torch.equal(results[backend], results["dense"]):
                row["status"] = "MISMATCH"
            latency.append(row)

        # false attribution on clean queries
        clean = min(max(queries, MIN_CLEAN_QUERIES), max(queries, max_pairs // m))
        clean_bits = _random_bits(clean, n_bits, _generator(seed, n_bits, m, "clean"))
        k = int((reg.attribute(clean_bits, alpha).decision != NO_MATCH).sum())
        low, high = _clopper_pearson(k, clean)
        analytic = analytic_false_attribution(n_bits, m, alpha)
        false_rows.append({"n_bits": n_bits, "M": m, "clean_queries": clean, "false_attributions": k,
                           "empirical": k / clean, "ci_low": low, "ci_high": high, "analytic": analytic,
                           "expected_count": clean * analytic,
                           "within_band": _consistent(k, clean, analytic, low, high)})

        # attribution accuracy: fingerprint 0 with bits flipped, M - 1 decoys
        gen = _generator(seed, n_bits, m, "accuracy")
        k_star = min_correct_bits(n_bits, alpha / m)
        for p in FLIP_PROBABILITIES:
            samples = _flip(fps[:1].expand(queries, n_bits), p, gen)
            correct = int((reg.attribute(samples, alpha).decision == 0).sum())
            accuracy.append({"n_bits": n_bits, "M": m, "p_flip": p, "queries": queries, "correct": correct,
                             "accuracy": correct / queries, "analytic": _analytic_accuracy(n_bits, p, k_star),
                             "threshold_bits": k_star})
        del reg, fps, ids

    tables = {"latency": pd.DataFrame(latency, columns=LATENCY_COLUMNS),
              "false_attribution": pd.DataFrame(false_rows, columns=FALSE_COLUMNS),
              "attribution": pd.DataFrame(accuracy, columns=ACCURACY_COLUMNS)}
    if out is not None:
        write_outputs(tables, out)
    return tables


def write_outputs(tables: dict[str, pd.DataFrame], out: Path) -> list[Path]:
    """The three CSVs and the two plots of :func:`registry_bench` into ``out``; returns their paths."""
    from fpbench.atomic import write_atomic  # noqa: PLC0415

    paths = []
    for name in ("latency", "false_attribution", "attribution"):
        table = tables[name]
        paths.append(write_atomic(out / f"{name}.csv", lambda p, t=table: t.to_csv(p, index=False)))
    paths.append(_plot_latency(tables["latency"], out / "latency.png"))
    paths.append(_plot_false(tables["false_attribution"], out / "false_attribution.png"))
    paths.append(_plot_attribution(tables["attribution"], out / "attribution.png"))
    paths.append(write_atomic(out / "report.md", lambda p: p.write_text(report_markdown(tables), encoding="utf-8")))
    return paths


def report_markdown(tables: dict[str, pd.DataFrame]) -> str:
    """The scale study as a Markdown page: each table with its plot and what it answers."""
    from fpbench.reports.format import to_markdown  # noqa: PLC0415

    def shown(frame: pd.DataFrame, digits: dict[str, str]) -> pd.DataFrame:
        out = frame.copy()
        for column, spec in digits.items():
            out[column] = [format(v, spec) if isinstance(v, (int, float)) and math.isfinite(v) else "-"
                           for v in frame[column]]
        return out.astype(str)

    latency, false, accuracy = tables["latency"], tables["false_attribution"], tables["attribution"]
    ok = latency[latency["status"] == "ok"]
    mismatches = int((latency["status"] == "MISMATCH").sum())
    inside = int(false["within_band"].sum())
    worst = accuracy.assign(gap=(accuracy["accuracy"] - accuracy["analytic"]).abs())["gap"].max()
    lines = [
        "# Attribution among many registered fingerprints (`fpbench registry-bench`)", "",
        f"Registry sizes M: {', '.join(f'{m:.0e}' for m in sorted(latency['M'].unique()))}; fingerprint lengths: "
        f"{', '.join(str(n) for n in sorted(latency['n_bits'].unique()))} bits; torch threads: "
        f"{torch.get_num_threads()}.", "",
        "## Query latency", "",
        "Batched exact attribution (best match by Hamming distance, Bonferroni over M), milliseconds per query; "
        "`speedup_vs_dense` against the dense N x M `attribute` measured in the same cell. "
        f"{len(ok)} cells measured, {mismatches} where a backend disagreed with dense.", "",
        to_markdown(shown(latency, {"ms_per_query": ".3f", "speedup_vs_dense": ".1f"})), "![latency](latency.png)", "",
        "## False attribution on clean images", "",
        "Uniform random bits (a clean image decodes to coin flips) against M random registered fingerprints: "
        "the empirical rate with its exact 95% interval against the analytic rate from the binomial tail and M. "
        f"{inside} of {len(false)} cells consistent with the analytic rate.", "",
        to_markdown(shown(false, {"empirical": ".2e", "ci_low": ".2e", "ci_high": ".2e", "analytic": ".2e",
                                  "expected_count": ".3g"})), "![false attribution](false_attribution.png)", "",
        "## Attribution accuracy with M - 1 decoys", "",
        "Fingerprint 0 read with each bit flipped with probability p_flip (a decoder's errors), among M - 1 random "
        "decoys: accuracy against the analytic prediction (the chance that enough bits survive to clear the "
        f"Bonferroni threshold `threshold_bits`; decoys winning ignored). Largest gap: {worst:.3f}.", "",
        to_markdown(shown(accuracy, {"accuracy": ".3f", "analytic": ".3f"})), "![attribution](attribution.png)", "",
    ]
    return "\n".join(lines)


def _plot_attribution(table: pd.DataFrame, path: Path) -> Path:
    n_bits = sorted(table["n_bits"].unique())
    fig, axes = new_figure(len(n_bits), ncols=len(n_bits))
    for ax, n in zip(axes, n_bits, strict=True):
        rows = table[table["n_bits"] == n]
        for i, (p, group) in enumerate(rows.groupby("p_flip")):
            group = group.sort_values("M")
            ax.plot(group["M"], group["accuracy"], "o", color=f"C{i}", label=f"measured, p_flip {p:g}")
            ax.plot(group["M"], group["analytic"], "-", color=f"C{i}", alpha=0.6, label=f"analytic, p_flip {p:g}")
        _axes(ax, n, "registered fingerprints M (M - 1 decoys)", "attribution accuracy", log_y=False)
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def _axes(ax, n_bits: int, xlabel: str, ylabel: str, log_y: bool = True) -> None:
    """The scale study's axes: M on a log axis, one panel per fingerprint length."""
    ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_title(f"{n_bits}-bit fingerprints")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)


def _plot_latency(table: pd.DataFrame, path: Path) -> Path:
    import seaborn as sns  # noqa: PLC0415

    n_bits = sorted(table["n_bits"].unique())
    fig, axes = new_figure(len(n_bits), ncols=len(n_bits))
    measured = table[np.isfinite(table["ms_per_query"].astype(float))]
    for ax, n in zip(axes, n_bits, strict=True):
        rows = measured[measured["n_bits"] == n]
        if len(rows):
            sns.lineplot(data=rows, x="M", y="ms_per_query", hue="backend", marker="o", ax=ax)
        _axes(ax, n, "registered fingerprints M", "ms per query (batched)")
    return save_figure(fig, path)


def _plot_false(table: pd.DataFrame, path: Path) -> Path:
    n_bits = sorted(table["n_bits"].unique())
    fig, axes = new_figure(len(n_bits), ncols=len(n_bits))
    for ax, n in zip(axes, n_bits, strict=True):
        rows = table[table["n_bits"] == n].sort_values("M")
        m = rows["M"].to_numpy(float)
        emp = rows["empirical"].to_numpy(float)
        lo, hi = rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float)
        ax.plot(m, rows["analytic"].to_numpy(float), "-", color="C0", label="analytic")
        seen = emp > 0  # log axis: a zero rate is drawn as its 95% upper bound, a downward triangle
        if seen.any():
            ax.errorbar(m[seen], emp[seen], yerr=[emp[seen] - lo[seen], hi[seen] - emp[seen]], fmt="o",
                        color="C1", capsize=3, label="empirical (95% CI)")
        if (~seen).any():
            ax.plot(m[~seen], hi[~seen], "v", color="C1", label="0 observed: 95% upper bound")
        _axes(ax, n, "registered fingerprints M", "false attribution rate (clean queries)")
        ax.legend(fontsize=8)
    return save_figure(fig, path)
