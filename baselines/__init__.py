"""fpbench baselines: passive attribution / detection classifiers as scikit-learn style estimators.

Registered ids (``BASELINES``, a :class:`fpbench.registry.Registry` of estimator classes):

- ``yu2019``            GAN-fingerprint attribution CNN (Yu et al. 2019), K-way.
- ``wang2020``          CNNDetection-style real/fake detector (Wang et al. 2020), small ResNet trained from
                        scratch (no pretrained weights offline), binary only.
- ``frank2020``         log-DCT spectrum + L2 logistic regression (Frank et al. 2020), K-way.
- ``frank2020_pixels``  Frank et al.'s control: the same classifier on raw pixels.
- ``durall2020``        azimuthal spectrum profile + logistic regression or RBF SVM (Durall et al. 2020).
- ``marra2019``         mean noise-residual fingerprints + normalised cross-correlation (Marra et al. 2019).

Every estimator follows scikit-learn's conventions (``get_params``/``set_params``/``clone``): keyword-only
hyperparameters stored untouched, learned state ending in ``_`` (``classes_``, ``image_shape_``, ...),
``fit(X, y)``, ``predict(X)``, ``predict_proba(X)`` (columns ordered as ``classes_``).

Input: ``X`` Nx3xHxW (channels first) as a numpy array or torch tensor, float in [0, 1] or uint8 in 0..255;
all images of one size, the same at predict time as in fit. ``y``: integer or string labels.

>>> from fpbench.baselines import BASELINES
>>> clf = BASELINES.get("frank2020")(C=0.5)
>>> clf.get_params()["C"]
0.5
"""

from fpbench.baselines._registry import BASELINES
from fpbench.baselines.durall2020 import Durall2020
from fpbench.baselines.frank2020 import Frank2020, Frank2020Pixels
from fpbench.baselines.marra2019 import Marra2019
from fpbench.baselines.wang2020 import Wang2020
from fpbench.baselines.yu2019 import Yu2019

__all__ = ["BASELINES", "Durall2020", "Frank2020", "Frank2020Pixels", "Marra2019", "Wang2020", "Yu2019"]
