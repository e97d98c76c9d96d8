"""The answers on top of the report, checked on a hand-made run whose answers are known by construction."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from fpbench import reports
from fpbench.reports.config import DEFAULT_CONFIG
from fpbench.reports.headline import headline
from fpbench.results import read_results, row, to_frame, write_results

FP = "artificial_fingerprint"


def _ci(low: float, high: float) -> tuple[float, float]:
    return (low, high)


def world_rows() -> list:
    """Two fingerprinted generators, a clean control, two baselines, one decoy method, and attack grids
    where the most damaging in-budget cell is never the most damaging cell overall."""
    rows = [
        row(method=FP, model="data", metric="bit_accuracy", value=0.999, n=1000, ci=_ci(0.998, 1.0)),
        row(method=FP, model="data", metric="psnr", value=32.0, n=1000, ci=_ci(31.9, 32.1)),
        row(method=FP, model="gan-s1", metric="bit_accuracy", value=0.95, n=1000, ci=_ci(0.94, 0.96)),
        row(method=FP, model="gan-s2", metric="bit_accuracy", value=0.60, n=1000, ci=_ci(0.58, 0.62)),
        row(method=FP, model="gan-clean", metric="control_bit_accuracy", value=0.52, n=1000, ci=_ci(0.51, 0.53)),
        row(method=FP, model="gan-clean", metric="false_positive_rate", value=0.0, n=1000, ci=_ci(0.0, 0.004)),
        # closed world over the zoo: frank2020 is the best baseline, yu2019 worse
        row(method=FP, model="zoo", metric="attribution_accuracy", value=0.97, n=2000, world="closed",
            ci=_ci(0.96, 0.98)),
        row(method="yu2019", model="zoo", metric="attribution_accuracy", value=0.80, n=2000, world="closed",
            ci=_ci(0.78, 0.82)),
        row(method="frank2020", model="zoo", metric="attribution_accuracy", value=0.90, n=2000, world="closed",
            ci=_ci(0.88, 0.92)),
        row(method="frank2020+immunised", model="zoo", metric="attribution_accuracy", value=0.99, n=2000,
            world="closed", ci=_ci(0.98, 1.0)),  # a variant, not a passive baseline of its own
        # open world: one unseen generator
        row(method=FP, model="gan-s2", metric="detection_accuracy", value=0.96, n=2000, world="open",
            ci=_ci(0.95, 0.97)),
        row(method="wang2020", model="gan-s2", metric="detection_accuracy", value=0.70, n=2000, world="open",
            ci=_ci(0.68, 0.72)),
    ]

    def cell(kind: str, attack: str, param: float, sev: int, model: str = "gan-s1", method: str = FP,
             **metrics: float) -> list:
        return [row(method=method, model=model, attack=attack, attack_kind=kind, param=param, severity=sev,
                    metric=m, value=v, n=500, ci=_ci(v - 0.01, v + 0.01), attack_version=1)
                for m, v in metrics.items()]

    rows += cell("image", "jpeg", 50.0, 0, bit_accuracy=0.55, psnr=28.0)          # in budget: the answer
    rows += cell("image", "gaussian_blur", 9.0, 0, bit_accuracy=0.51, psnr=20.0)  # lower, but 20 dB < 25
    rows += cell("image", "jpeg", 50.0, 0, method="lsb", bit_accuracy=0.40, psnr=30.0)  # another method
    rows += [row(method=FP, model="gan-s1", metric="fid", value=10.0, n=500)]
    rows += cell("model", "weight_noise", 0.1, 0, bit_accuracy=0.70, fid=12.0)    # in budget: the answer
    rows += cell("model", "weight_noise", 0.3, 1, bit_accuracy=0.50, fid=40.0)    # FID 4x: over budget
    rows += cell("adaptive", "overwrite", 1.0, 0, attack_success_rate=0.80, psnr=31.0)
    rows += cell("adaptive", "whitebox_pgd", 16.0, 0, attack_success_rate=1.0, psnr=25.0)  # 25 dB < 30
    rows += cell("adaptive", "forgery_copy", 128.0, 0, attack_success_rate=0.30, psnr=35.0)
    rows += cell("adaptive", "detectability_cnn", 16.0, 0, detection_accuracy=0.90)
    rows += cell("adaptive", "detectability_cnn", 64.0, 1, detection_accuracy=0.99)
    rows += cell("adaptive", "detectability_cnn", 256.0, 2, detection_accuracy=0.99)
    return rows


@pytest.fixture(scope="module")
def answers() -> dict[str, tuple[str, str]]:
    return {a.question: (a.text, a.section) for a in headline(to_frame(world_rows()), DEFAULT_CONFIG)}


def test_answers_in_the_papers_order(answers):
    assert list(answers) == [
        "Stamped training data", "Transfer to generators", "Attribution, closed world", "Detection, open world",
        "Strongest image attack", "Strongest model attack", "Strongest adaptive attack", "Detectability"]


def test_stamped_data_and_transfer(answers):
    assert answers["Stamped training data"][0] == (
        f"{FP}: bit accuracy 0.999 ± 0.001, PSNR 32.00 ± 0.10 dB against the original photos.")
    text, section = answers["Transfer to generators"]
    assert section == "transfer"
    assert "gan-s1 0.950 ± 0.010, gan-s2 0.600 ± 0.020" in text  # every generator, not the extremes
    assert "Clean control: gan-clean 0.520 ± 0.010 (ideal 0.5), false positives 0.000 ± 0.002" in text


def test_fingerprint_next_to_the_best_passive_baseline(answers):
    text, section = answers["Attribution, closed world"]
    assert section == "baselines"
    assert text == ("all generators: fingerprint 0.970 ± 0.010, best passive baseline frank2020 0.900 ± 0.020.")
    assert answers["Detection, open world"][0] == (
        "unseen gan-s2: fingerprint 0.960 ± 0.010, best passive baseline wang2020 0.700 ± 0.020.")


def test_strongest_attacks_within_their_quality_budget(answers):
    text, section = answers["Strongest image attack"]
    assert section == "robustness"
    assert text == ("within PSNR >= 25 dB of the unattacked image: jpeg (50) on gan-s1, bit accuracy "
                    "0.550 ± 0.010 (PSNR 28.00 dB).")
    assert answers["Strongest model attack"][0] == (
        "while FID stays under 2x the unattacked model's: weight_noise (0.1) on gan-s1, bit accuracy "
        "0.700 ± 0.010 (FID 12.00 against 10.00 unattacked).")
    assert answers["Strongest adaptive attack"][0] == (
        "at PSNR >= 30 dB: removal: overwrite (1) on gan-s1, success 0.800 ± 0.010 (PSNR 31.00 dB); "
        "forgery: forgery_copy (128) on gan-s1, success 0.300 ± 0.010 (PSNR 35.00 dB).")
    assert "0.990 ± 0.010 (detectability_cnn (64), gan-s1; chance 0.5)" in answers["Detectability"][0]


def test_one_generator_is_quoted_once():
    """The smoke zoo has one generator: the answer names it once, never as both lowest and highest."""
    rows = [row(method=FP, model="dcgan-s0", metric="bit_accuracy", value=0.5, n=100, ci=_ci(0.49, 0.51))]
    (answer,) = headline(to_frame(rows), DEFAULT_CONFIG)
    assert answer.text == "bit accuracy of generated samples: dcgan-s0 0.500 ± 0.010."


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []  # "headline" and "table" in document order
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if attrs.get("id") == "headline" or tag == "table":
            self.order.append(attrs.get("id") or tag)
        if tag == "a" and attrs.get("href", "").startswith("#"):
            self.links.append(attrs["href"][1:])


def test_report_page_opens_with_the_answers_linked_to_their_sections(tmp_path):
    write_results(to_frame(world_rows()), tmp_path / "results.csv")
    assert len(read_results(tmp_path / "results.csv")) == len(world_rows())
    page = _Page()
    page.feed(reports.render_run(tmp_path).read_text(encoding="utf-8"))
    assert page.order[0] == "headline" and "table" in page.order
    assert page.links and set(page.links) <= page.ids
    assert {"transfer", "robustness", "model-attacks", "adaptive", "baselines"} <= page.ids
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert markdown.index("## Answers") < markdown.index("| method")
    assert re.search(r"\*\*\[Strongest image attack\]\(#robustness\)\*\*: within PSNR >= 25 dB", markdown)
