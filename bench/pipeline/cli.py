"""The ``fpbench`` command.

    fpbench run [--preset NAME | --config FILE] [--data DIR] [--out DIR] [--device cpu|cuda] [--seeds A,B,...]
    fpbench evaluate --card CARD.yaml [--card ...] [--attacks A,B] [--negatives DIR] --out DIR
                                                   (external models from model cards; trains nothing)
    fpbench config show NAME|FILE                  (a preset or config file as a complete YAML file)
    fpbench methods                                (built-in methods and installed plug-ins)
    fpbench attacks [--kind image|model|adaptive]
    fpbench report RUN_DIR
    fpbench compare RUN_A RUN_B [--atol X] [--tolerance NAME.tolerance.json] [--html OUT.html]
    fpbench check RUN_DIR [--reference NAME] [--html OUT.html]  (CI regression gate; the page: its artifact)
    fpbench update-reference RUN_DIR --name NAME --out DIR  (regenerate reference numbers on purpose)
    fpbench registry-bench --sizes 1e3,1e4,1e5,1e6 [--bits 48,100] [--queries 1000] [--out DIR]
                                                   (attribution among M registered fingerprints: issue 18)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from fpbench.registry import UnknownIdError


def _parse_grid(text: str) -> tuple[str, tuple[float, ...]]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--grid expects ATTACK=V1,V2,..., got {text!r}")
    name, values = text.split("=", 1)
    try:
        grid = tuple(float(v) for v in values.split(",") if v.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--grid {name}: values must be numbers, got {values!r}") from exc
    return name.strip(), grid


MAX_SEED = 2**32 - 1  # seeds are offset (RunConfig.with_seed) and fed to numpy, which takes 0..2^32-1


def _parse_seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--seeds expects integers like 0,1,2, got {text!r}") from exc
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0 or max(seeds) > MAX_SEED // 2:
        raise argparse.ArgumentTypeError(f"--seeds expects distinct integers in 0..{MAX_SEED // 2} like 0,1,2, "
                                         f"got {text!r}")
    return seeds


def _parse_seed(text: str) -> int:
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed expects one integer (several: --seeds 0,1,2), got {text!r}") from None
    if not 0 <= seed <= MAX_SEED // 2:
        raise argparse.ArgumentTypeError(f"--seed expects an integer in 0..{MAX_SEED // 2}, got {seed}")
    return seed


def _at_least(flag: str, cast: type, low: float, what: str):
    """An argparse type: ``cast(text)``, finite and >= ``low``, else an error naming ``flag`` and ``what``."""
    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} expects {what}, got {text!r}") from None
        if not (math.isfinite(value) and value >= low):
            raise argparse.ArgumentTypeError(f"{flag} expects {what}, got {value}")
        return value

    return parse


def _positive(flag: str):
    return _at_least(flag, int, 1, "a whole number >= 1")


def _parse_counts(flag: str, example: str):
    """An argparse type: comma-separated whole numbers >= 1, written like 1000 or 1e3."""
    def parse(text: str) -> tuple[int, ...]:
        parts = [t.strip() for t in text.split(",") if t.strip()]
        values = []
        for part in parts:
            try:
                value = float(part)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{flag} expects whole numbers >= 1 like {example}, "
                                                 f"got {part!r}") from None
            if not (math.isfinite(value) and value.is_integer() and value >= 1):
                raise argparse.ArgumentTypeError(f"{flag} expects whole numbers >= 1 like {example}, got {part!r}")
            values.append(int(value))
        if not values:
            raise argparse.ArgumentTypeError(f"{flag} expects whole numbers >= 1 like {example}, got {text!r}")
        return tuple(values)

    return parse


def _nonnegative(flag: str):
    return _at_least(flag, float, 0.0, "a finite number >= 0")


def read_grid_file(path: Path) -> dict[str, tuple[float, ...]]:
    """``{attack id: [numbers]}`` from a JSON grid file; anything else (a string, a bare number, null) is an
    error naming the attack, not a grid read character by character."""
    try:
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the grid file {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the grid file {path} is not JSON ({exc.msg}, line {exc.lineno}): write "
                         '{"jpeg": [90, 70, 50]}') from None
    if not isinstance(loaded, dict):
        raise ValueError(f"the grid file {path} must hold an object of attack id -> list of numbers, like "
                         f'{{"jpeg": [90, 70, 50]}}; got a {type(loaded).__name__}')
    grids = {}
    for attack, values in loaded.items():
        ok = isinstance(values, list) and values and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if not ok:
            raise ValueError(f"the grid file {path}: {attack!r} must be a non-empty list of numbers, like "
                             f"[90, 70, 50]; got {values!r}")
        grids[str(attack)] = tuple(float(v) for v in values)
    return grids


def check_output_folder(path: Path, what: str) -> Path:
    """``path`` as a folder this process can write into (created if missing), or a ValueError saying why
    not, before any work is done."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {path} is a file, not a folder: give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".fpbench-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"{what} {path} is not writable ({exc.strerror or exc}): give a folder you can write to") \
            from None
    return path


def _load(name_or_file: str | Path):
    """A preset by name, or the run config of a YAML file (``extends`` may name a preset)."""
    from fpbench.pipeline.config import load_config
    from fpbench.pipeline.presets import PRESETS

    text = str(name_or_file)
    if text.endswith((".yaml", ".yml")) or Path(text).is_file():
        return load_config(text, {name: PRESETS.get(name) for name in PRESETS})
    return PRESETS.get(text)


def _cmd_config_show(args: argparse.Namespace) -> int:
    from fpbench.pipeline.config import dump_yaml

    print(dump_yaml(_load(args.name)), end="")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:

    import torch

    from fpbench.cache import ArtifactCache
    from fpbench.pipeline.runner import check_device, run, summary_table
    from fpbench.pipeline.validate import check_config

    if args.preset and args.config:
        raise ValueError("give --preset NAME or --config FILE, not both (a config file can say `extends: NAME`)")
    preset = _load(args.config or args.preset or "quick")
    if args.seed is not None and args.seeds is not None:
        raise ValueError("give --seed N or --seeds A,B,..., not both")
    if args.seed is not None or args.seeds is not None:
        preset = preset.with_seeds((args.seed,) if args.seed is not None else args.seeds)
    overrides = dict(preset.evaluation.grids)
    if args.grid_file:
        overrides |= read_grid_file(args.grid_file)
    overrides |= dict(args.grid or [])
    if overrides != preset.evaluation.grids:
        preset = preset.updated({"evaluation": {"grids": overrides}})
    if args.gan_workers is not None:
        preset = preset.updated({"zoo": {"workers": args.gan_workers}})
    if args.allow_upscale:
        preset = preset.updated({"data": {"allow_upscale": True}})
    executor = {k: v for k, v in (("kind", args.executor), ("address", args.ray_address),
                                  ("cpus_per_task", args.cpus_per_task)) if v is not None}
    if executor:
        preset = preset.updated({"executor": executor})
    if args.method:  # these, beside the paper's method, which always comes first, instead of the preset's
        preset = preset.updated({"methods": list(dict.fromkeys([preset.methods[0], *args.method]))})
    if args.fid_extractor is not None:
        preset = preset.updated({"evaluation": {"fid_extractor": args.fid_extractor}})
    if args.model_card:
        preset = preset.updated({"models": [*preset.models, *(str(c) for c in args.model_card)]})
    check_config(preset)  # before any stage: a --grid outside the run, an unknown id, a missing generator
    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        raise ValueError(f"--device must be cpu, cuda or cuda:N, got {args.device!r}")
    check_device(args.device)  # a GPU asked for and none visible: before --out and --cache-dir are created
    if args.data is not None and not Path(args.data).is_dir():
        raise ValueError(f"--data {args.data} is not a folder: give the folder of your images")
    out = check_output_folder(Path(args.out or f"runs/{preset.name}"), "--out")
    if args.cache_dir is not None and not args.no_cache:
        check_output_folder(args.cache_dir, "--cache-dir")
    if args.threads:
        torch.set_num_threads(args.threads)
    outcome = run(preset, out, data_dir=args.data, device=args.device,
                  cache=ArtifactCache(args.cache_dir, enabled=not args.no_cache), progress=not args.quiet,
                  allow_download=args.allow_download)
    print(summary_table(outcome.results))
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in outcome.manifest["stage_seconds"].items())
    print(f"\nwrote {out}/results.csv ({len(outcome.results)} rows), manifest.json, report; stages: {stages}")
    throughput = _throughput_line(outcome.manifest)
    if throughput:
        print(throughput)
    return 0


#: the manifest's throughput entries, with their names in the summary line
THROUGHPUT_KEYS = (("image_attack_throughput", "image attacks"), ("model_attack_throughput", "model attacks"),
                   ("adaptive_throughput", "adaptive"))


def _throughput_line(manifest: dict) -> str:
    """One line of each attack stage's throughput this run measured (``img/s`` or ``img/s / steps/s``);
    empty when no attack did any work (all cached)."""
    parts = []
    for key, label in THROUGHPUT_KEYS:
        rates = manifest.get(key) or {}
        cells = [f"{name} {'/'.join(f'{r[k]:g}' for k in ('images_per_second', 'steps_per_second') if k in r)}"
                 for name, r in rates.items()]
        if cells:
            parts.append(f"{label}: " + ", ".join(cells))
    return "throughput (img/s / steps/s): " + "; ".join(parts) if parts else ""


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import torch

    from fpbench.cache import ArtifactCache
    from fpbench.pipeline.evaluate import evaluate
    from fpbench.pipeline.runner import check_device, summary_table

    check_device(args.device)  # a GPU asked for and none visible: before --out and --cache-dir are created
    out = check_output_folder(args.out, "--out")
    if args.cache_dir is not None and not args.no_cache:
        check_output_folder(args.cache_dir, "--cache-dir")
    if args.threads:
        torch.set_num_threads(args.threads)
    attacks = [a.strip() for a in args.attacks.split(",") if a.strip()] if args.attacks is not None else None
    outcome = evaluate(args.card, out, attacks=attacks, negatives=args.negatives, n_samples=args.samples,
                       attack_samples=args.attack_samples, seed=args.seed or 0, alpha=args.alpha,
                       fid_extractor=args.fid_extractor or "auto", allow_download=args.allow_download,
                       cache=ArtifactCache(args.cache_dir, enabled=not args.no_cache), device=args.device,
                       progress=not args.quiet)
    print(summary_table(outcome.results))
    print(f"\nwrote {out}/results.csv ({len(outcome.results)} rows), manifest.json, report")
    return 0


def _cmd_methods(args: argparse.Namespace) -> int:
    from fpbench.methods import all_methods

    registry = all_methods()
    print(f"{'id':<34} {'kind':<9} from")
    for method_id, factory in registry.items():
        kind = "learned" if getattr(factory, "learned", False) else "classical"
        origin = getattr(factory, "__module__", "?")
        print(f"{method_id:<34} {kind:<9} {origin}")
    return 0


def _cmd_attacks(args: argparse.Namespace) -> int:
    from fpbench.attacks.registry import load_all

    registry = load_all()
    rows = [s for _, s in registry.items() if args.kind is None or s.kind.value == args.kind]
    print(f"{'id':<32} {'kind':<9} {'param':<12} {'v':>2}  {'grid':<40} unit")
    for s in rows:
        grid = ", ".join(f"{g:g}" for g in s.grid)
        print(f"{s.id:<32} {s.kind.value:<9} {s.param:<12} {s.version:>2}  {grid:<40} {s.unit}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from fpbench.reports import render_run

    path = render_run(Path(args.run_dir))
    print(f"wrote {path}")
    return 0


def _results(run_dir: str) -> object:
    from fpbench.results import read_results

    path = Path(run_dir)
    path = path / "results.csv" if path.is_dir() else path
    if not path.exists():
        raise FileNotFoundError(f"no results.csv at {path}; pass a run folder written by `fpbench run`")
    return read_results(path)


def _valid_results(run_dir: str) -> object:
    """The results of a run, refused (ValueError listing the problems) when the table is not valid."""
    from fpbench.results import validate

    df = _results(run_dir)
    problems = validate(df)
    if problems:
        raise ValueError(f"{run_dir}: not a valid results table:\n- " + "\n- ".join(problems))
    return df


def _html_target(path: Path | None) -> Path | None:
    """``--html`` as a file whose folder exists (created) and is writable, checked before the work."""
    if path is None:
        return None
    if path.is_dir():
        raise ValueError(f"--html {path} is a folder: give a file name such as {path / 'compare.html'}")
    check_output_folder(path.parent, "the folder of --html")
    return path


def _write_page(path: Path, rows: object, *, old: str, new: str, tolerance: str) -> None:
    from fpbench.atomic import write_text_atomic
    from fpbench.reports.compare_page import render_comparison

    write_text_atomic(path, render_comparison(rows, old=old, new=new, tolerance=tolerance))
    print(f"wrote {path}")


def _cmd_compare(args: argparse.Namespace) -> int:
    from fpbench.reports.compare import compare_runs, format_comparison
    from fpbench.reports.regression import read_tolerance

    tolerance = read_tolerance(args.tolerance) if args.tolerance is not None else None
    old, new = _valid_results(args.run_a), _valid_results(args.run_b)
    html = _html_target(args.html)
    rows = compare_runs(old, new, atol=args.atol, tolerance=tolerance)
    print(format_comparison(rows))
    if html is not None:
        every_row = f"absolute tolerance {args.atol:g}" + (" (any change counts)" if args.atol == 0 else "")
        used = every_row + " on every row" if tolerance is None else (
            f"the rules of {args.tolerance} (per row and per metric, the most specific wins); rows no rule "
            f"matches: {every_row}")
        _write_page(html, rows, old=args.run_a, new=args.run_b, tolerance=used)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from fpbench.reports.compare_page import from_regression
    from fpbench.reports.regression import check_reference, reference_paths

    current = _results(args.run_dir)
    html = _html_target(args.html)
    report = check_reference(current, args.reference)
    print(report.summary())
    if html is not None:
        csv_path, tol_path = reference_paths(args.reference)
        _write_page(html, from_regression(report), old=str(csv_path), new=args.run_dir,
                    tolerance=f"the reference's, {tol_path} (per row and per metric, the most specific wins)")
    return 0 if report.passed else 1


def _cmd_update_reference(args: argparse.Namespace) -> int:
    from fpbench.reports.regression import update_reference

    paths = update_reference(Path(args.run_dir) / "results.csv", args.name, spread=args.spread,
                             row_spread=args.row_spread, k=args.k, margin=args.margin, note=args.note,
                             reference_dir=args.out, keep_wider=args.keep_wider)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _cmd_registry_bench(args: argparse.Namespace) -> int:
    import pandas as pd
    import torch

    from fpbench.pipeline.registry_bench import registry_bench

    out = check_output_folder(args.out, "--out")
    if args.threads:
        torch.set_num_threads(args.threads)
    tables = registry_bench(args.sizes, args.bits, queries=args.queries, alpha=args.alpha, out_dir=out,
                            progress=not args.quiet)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        for name, title in (("latency", "query latency"), ("false_attribution", "false attribution (clean queries)"),
                            ("attribution", "attribution accuracy (fingerprint 0 among M-1 decoys)")):
            print(f"\n{title}\n{tables[name].to_string(index=False)}")
    print(f"\nwrote {out}/report.md (the three tables and plots on one page) and their CSV and PNG files")
    return 0


#: ``--fid-extractor`` values: "auto" and the ids of fpbench.fid.FEATURE_EXTRACTORS (listed here so that
#: building the parser imports no torch; a test keeps the two equal)
FID_EXTRACTOR_CHOICES = ("auto", "inception", "random-conv-v1")


def _add_fid_options(parser: argparse.ArgumentParser) -> None:
    """``--fid-extractor`` and ``--allow-download``, for every command that computes FIDs."""
    parser.add_argument("--fid-extractor", choices=FID_EXTRACTOR_CHOICES,
                        help="FID features: inception (clean-fid's Inception-V3, comparable with published FIDs; "
                             "needs its weights file), random-conv-v1 (offline, comparable only within fpbench) "
                             "or auto (inception when its weights are on disk, else random-conv-v1); "
                             "default: the run config's evaluation.fid_extractor (auto in every preset)")
    parser.add_argument("--allow-download", action="store_true",
                        help="let clean-fid download the Inception weights (about 100 MB) into "
                             "$FPBENCH_CACHE_DIR/weights (default ~/.cache/fpbench/weights) when they are "
                             "missing; without it nothing is downloaded")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fpbench", description="Benchmark artificial fingerprints in generative models.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run a benchmark preset end to end")
    p.add_argument("--preset", help="smoke, quick (the default) or paper")
    p.add_argument("--config", type=Path, help="a run config YAML file (see `fpbench config show quick`)")
    p.add_argument("--data", type=Path, help="folder of your own images (PNG/JPEG/WebP); default: built-in photos")
    p.add_argument("--method", action="append", metavar="ID",
                   help="measure this fingerprinting method beside the paper's, instead of the preset's list "
                        "(repeatable; `--method artificial_fingerprint` alone: the paper's only; `fpbench methods` "
                        "lists them)")
    p.add_argument("--allow-upscale", action="store_true",
                   help="enlarge --data images smaller than the resolution instead of refusing them")
    p.add_argument("--out", type=Path, help="output folder (default runs/PRESET)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--seed", type=_parse_seed, help="run one repeat with this seed (default: the preset's seeds)")
    p.add_argument("--seeds", type=_parse_seeds, metavar="A,B,...",
                   help="repeat everything that depends on the seed (fingerprint, generators, sampling, attacks) "
                        "for each seed; results.csv gets per-seed rows and aggregates (seed -1) with 95%% t-intervals")
    p.add_argument("--cache-dir", type=Path, help="artifact cache (default $FPBENCH_CACHE_DIR or ~/.cache/fpbench)")
    p.add_argument("--no-cache", action="store_true", help="recompute everything, write nothing to the cache")
    p.add_argument("--grid", type=_parse_grid, action="append", metavar="ATTACK=V1,V2",
                   help="override an attack's severity grid (repeatable)")
    p.add_argument("--grid-file", type=Path, help="JSON file {attack_id: [values]} of grid overrides")
    p.add_argument("--threads", type=_positive("--threads"), help="torch CPU threads (>= 1)")
    p.add_argument("--gan-workers", type=_positive("--gan-workers"), help="processes training generators side by side on CPU, "
                   "sharing the threads (default: the preset's, 1 in every shipped preset)")
    p.add_argument("--executor", choices=("local", "ray"),
                   help="where generator trainings, baseline fits and model-attack cells run: local (this machine; the "
                        "default) or ray (one Ray task each; needs `pip install 'fpbench[ray]'`)")
    p.add_argument("--ray-address", metavar="ADDRESS", help="the Ray cluster to submit to (e.g. 10.0.0.5:6379 or "
                   "auto); default: start a local one. The cache (--cache-dir) must be a path every node sees")
    p.add_argument("--cpus-per-task", type=_positive("--cpus-per-task"),
                   help="CPUs (and torch threads) of each Ray task (default 1)")
    p.add_argument("--model-card", type=Path, action="append", metavar="CARD.yaml",
                   help="add the external model of this card to the run (repeatable; see `fpbench evaluate` to "
                        "measure cards without training anything)")
    _add_fid_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("evaluate", help="measure external models from model cards, training nothing")
    p.add_argument("--card", type=Path, action="append", required=True, metavar="CARD.yaml",
                   help="a model card (repeatable); its `decoder:` checkpoint decodes it")
    p.add_argument("--attacks", metavar="A,B,...",
                   help="image attacks to run (default: the quick preset's; '' for none; `fpbench attacks`)")
    p.add_argument("--negatives", type=Path, metavar="DIR",
                   help="folder of unfingerprinted images for the FPR thresholds and the FID reference "
                        "(default: the built-in photos at the cards' resolution)")
    p.add_argument("--samples", type=_positive("--samples"), default=1000, help="images per model (default 1000)")
    p.add_argument("--attack-samples", type=_positive("--attack-samples"), default=500,
                   help="images per model under each attack (default 500)")
    p.add_argument("--alpha", type=float, help="significance level of the fingerprint test (default 1e-6, as quick)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--seed", type=_parse_seed, help="seed of the image subsets and attacks (default 0)")
    p.add_argument("--cache-dir", type=Path, help="artifact cache (default $FPBENCH_CACHE_DIR or ~/.cache/fpbench)")
    p.add_argument("--no-cache", action="store_true", help="recompute everything, write nothing to the cache")
    p.add_argument("--threads", type=_positive("--threads"), help="torch CPU threads (>= 1)")
    _add_fid_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("config", help="run configs as YAML files")
    config_sub = p.add_subparsers(dest="config_command", required=True)
    show = config_sub.add_parser("show", help="print a preset (or a config file, resolved) as a loadable YAML file")
    show.add_argument("name", help="smoke, quick, paper, or a .yaml file")
    show.set_defaults(func=_cmd_config_show)

    p = sub.add_parser("methods", help="list the fingerprinting methods (built-in and installed plug-ins)")
    p.set_defaults(func=_cmd_methods)

    p = sub.add_parser("attacks", help="list the attack registry")
    p.add_argument("--kind", choices=("image", "model", "adaptive"))
    p.set_defaults(func=_cmd_attacks)

    p = sub.add_parser("report", help="re-render tables, plots and the report page from RUN_DIR/results.csv")
    p.add_argument("run_dir")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("compare", help="what changed between two runs, metric by metric")
    p.add_argument("run_a", help="the old run (a run folder or its results.csv)")
    p.add_argument("run_b", help="the new run")
    p.add_argument("--atol", type=_nonnegative("--atol"), default=0.0,
                   help="absolute tolerance of every row (of rows no --tolerance rule matches); default 0: "
                        "any move counts")
    p.add_argument("--tolerance", type=Path, metavar="NAME.tolerance.json",
                   help="per-row and per-metric tolerances (the format of reports/reference/*.tolerance.json)")
    p.add_argument("--html", type=Path, metavar="OUT.html", help="also write the comparison as an HTML page")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("check", help="fail (exit 1) when a metric got worse than the committed reference")
    p.add_argument("run_dir")
    p.add_argument("--reference", default="smoke", help="a reference shipped with fpbench (smoke) or the path of a reference CSV "
                   "with its .tolerance.json beside it")
    p.add_argument("--html", type=Path, metavar="OUT.html",
                   help="also write what changed as an HTML page (the reference as the old run); exit code unchanged")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("update-reference", help="write RUN_DIR's numbers as the new reference, on purpose")
    p.add_argument("run_dir")
    p.add_argument("--name", required=True)
    p.add_argument("--out", type=Path, required=True,
                   help="folder to write NAME.csv and NAME.tolerance.json into (in a checkout: reports/reference)")
    p.add_argument("--spread", type=Path, help="CSV of measured run-to-run spread per metric")
    p.add_argument("--row-spread", type=Path, help="CSV of measured spread per row (scripts/measure_spread.py)")
    p.add_argument("--k", type=float, default=3.0, help="tolerance = max(k * std, margin * max distance, floor)")
    p.add_argument("--margin", type=float, default=1.5, help="see --k")
    p.add_argument("--note", default="", help="how the spread was measured (kept in the tolerance file)")
    p.add_argument("--keep-wider", type=Path, metavar="OLD.tolerance.json",
                   help="never narrower than this previous tolerance file (e.g. measured on another kind of "
                        "machine): per metric and per row the wider tolerance wins")
    p.set_defaults(func=_cmd_update_reference)

    p = sub.add_parser("registry-bench", help="attribution among M registered fingerprints: latency, false "
                       "attribution and accuracy vs M (issue 18)")
    p.add_argument("--sizes", type=_parse_counts("--sizes", "1e3,1e4,1e5,1e6"), required=True, metavar="M1,M2,...",
                   help="registry sizes, like 1e3,1e4,1e5,1e6")
    p.add_argument("--bits", type=_parse_counts("--bits", "48,100"), default=(48, 100), metavar="N1,N2,...",
                   help="fingerprint lengths (default 48,100)")
    p.add_argument("--queries", type=_positive("--queries"), default=1000,
                   help="queries per latency cell and per flip probability (default 1000)")
    p.add_argument("--alpha", type=_at_least("--alpha", float, 0.0, "a significance level in (0, 1]"), default=1e-6,
                   help="significance level of the attribution rule, Bonferroni over M (default 1e-6)")
    p.add_argument("--out", type=Path, default=Path("runs/registry-bench"),
                   help="output folder (default runs/registry-bench)")
    p.add_argument("--threads", type=_positive("--threads"), help="torch CPU threads (>= 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_registry_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The error boundary: an expected failure (a bad input, an OS error, a bad card, a corrupt file)
    is one line, ``fpbench: error: ...``, and exit code 2; ``--debug`` shows the traceback instead."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (UnknownIdError, ValueError, OSError) as exc:
        if args.debug:
            raise
        print(f"fpbench: error: {_describe(exc)}", file=sys.stderr)
        return 2
    except Exception:  # a bug: say so, with the traceback (which a user can file)
        traceback.print_exc()
        print("fpbench: internal error (a bug: please report it with the traceback above)", file=sys.stderr)
        return 3


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}: check the path and its permissions"
    return str(exc)


if __name__ == "__main__":
    sys.exit(main())
