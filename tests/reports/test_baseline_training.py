"""The report's baseline-training section (issue 22): validation curves plotted and a budget table, from the
manifest's ``baseline_training`` records."""

from __future__ import annotations

from PIL import Image

from fpbench.reports.baselines import plot_training, training_table

RECORDS = {"baseline_training": {
    "yu2019/closed": {"epochs": 3, "best_epoch": 2, "budget_epochs": 20, "steps": 30, "seconds": 4.2, "chance": 0.2,
                      "learned": True, "loss": [1.6, 0.5, 0.4], "val_loss": [1.5, 0.3, 0.35],
                      "val_accuracy": [0.3, 0.9, 0.88]},
    "wang2020/open": {"epochs": 2, "best_epoch": 1, "budget_epochs": 20, "steps": 10, "seconds": 1.0, "chance": 0.5,
                      "learned": False, "loss": [0.7, 0.7], "val_loss": [0.69, 0.7], "val_accuracy": [0.5, 0.49]},
}}


def test_the_table_states_budget_best_epoch_and_what_did_not_learn():
    table = training_table(RECORDS).set_index("fit")
    assert table.loc["yu2019/closed", "epochs"] == "3 of 20" and table.loc["yu2019/closed", "best epoch"] == 2
    assert table.loc["yu2019/closed", "val accuracy"] == "0.900"  # the kept epoch's, not the last
    assert table.loc["wang2020/open", "learned"].startswith("NO")
    assert training_table({}).empty and training_table(None).empty


def test_the_plot_is_drawn_only_with_records(tmp_path):
    path = plot_training(RECORDS, tmp_path / "training.png")
    assert path is not None
    with Image.open(path) as image:
        assert image.size[0] > 500
    assert plot_training({"baseline_training": {}}, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()
