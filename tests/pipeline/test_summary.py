"""The summary printed at the end of a run: every method of a several-method run is in it."""

from __future__ import annotations

from fpbench.pipeline.runner import summary_table
from fpbench.results import row, to_frame


def _rows(method: str, n_extra: int = 0) -> list:
    rows = [row(method=method, model="data", metric="bit_accuracy", value=0.9, n=10),
            row(method=method, model="data", metric="psnr", value=32.0, n=10),
            row(method=method, model="g", metric="bit_accuracy", value=0.8, n=10)]
    return rows + [row(method=method, model="data", metric="ssim", value=0.5 + i / 100, n=10) for i in range(n_extra)]


def test_a_run_of_several_methods_shows_each_methods_headline():
    text = summary_table(to_frame(_rows("paper", n_extra=40) + _rows("lsb") + _rows("dct_qim")), max_rows=5)
    lines = text.splitlines()[1:]
    assert [line.split()[0] for line in lines] == ["paper"] * 3 + ["lsb"] * 3 + ["dct_qim"] * 3
    assert not any("ssim" in line for line in lines)


def test_a_run_of_one_method_shows_its_first_clean_rows():
    text = summary_table(to_frame(_rows("paper", n_extra=40)), max_rows=5)
    lines = text.splitlines()[1:]
    assert len(lines) == 5 and all(line.startswith("paper") for line in lines)
    assert sum("ssim" in line for line in lines) == 2
