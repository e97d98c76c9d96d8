"""Every baseline separates two easy synthetic classes (different planted periodic high-frequency patterns
plus noise, brightness and gradients) far above chance on held-out images."""

from __future__ import annotations

import numpy as np

#: Enough training for 16x16 images; wang2020 uses lr 1e-3 instead of the paper's 1e-4 to stay fast.
LEARN_PARAMS: dict[str, dict] = {
    "yu2019": {"epochs": 6, "max_width": 32},
    "wang2020": {"epochs": 6, "learning_rate": 1e-3, "widths": (16, 32)},
}


class TestLearnability:
    def test_separates_planted_patterns(self, baseline_case, make_baseline, patterns):
        X_train, y_train = patterns(100, size=16, seed=10)
        X_test, y_test = patterns(100, size=16, seed=11)
        model = make_baseline(**LEARN_PARAMS.get(baseline_case, {}))
        accuracy = float(np.mean(model.fit(X_train, y_train).predict(X_test) == y_test))
        assert accuracy >= 0.9, f"{baseline_case}: held-out accuracy {accuracy:.3f}"

    def test_chance_without_signal(self, baseline_case, make_baseline, patterns):
        """Control: with the pattern removed (amplitude 0) nothing is learnable, so accuracy stays near 0.5."""
        X_train, y_train = patterns(100, size=16, amplitude=0.0, seed=12)
        X_test, y_test = patterns(100, size=16, amplitude=0.0, seed=13)
        model = make_baseline(**LEARN_PARAMS.get(baseline_case, {}))
        accuracy = float(np.mean(model.fit(X_train, y_train).predict(X_test) == y_test))
        assert 0.3 <= accuracy <= 0.7, f"{baseline_case}: {accuracy:.3f} without any signal"
