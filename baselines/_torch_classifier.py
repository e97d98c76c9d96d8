"""The one mini-batch training loop shared by the CNN baselines (yu2019, wang2020).

A subclass supplies the network (``_build_module``), the optimiser (``_make_optimizer``) and, if it needs
them, training-time augmentation (``_augment``, numpy in [0,1]), a test-time view (``_test_view``) and the
input scaling the network expects (``_scale``). Everything else (seeding, batching, the loss, progress bar,
thread count, batched inference) lives here once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils import check_random_state
from torch import nn
from tqdm.auto import tqdm

from fpbench.baselines._base import ImageClassifier, check_positive


@contextlib.contextmanager
def torch_threads(num_threads: int | None) -> Iterator[None]:
    """Temporarily set torch's intra-op thread count (``None``: leave it alone)."""
    if num_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def random_hflip(X: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """Flip each image of Nx3xHxW left-right with probability ``p`` (returns a new array)."""
    flip = rng.random(len(X)) < p
    out = X.copy()
    out[flip] = out[flip][..., ::-1]
    return out


class TorchImageClassifier(ImageClassifier):
    """Base for CNN baselines. Hyperparameters every subclass declares in its own ``__init__``:
    ``epochs``, ``max_steps`` (None: no cap), ``batch_size``, ``learning_rate``, ``device``,
    ``num_threads`` (None: torch's current setting), ``random_state``, ``verbose`` (tqdm bar).

    Learned state: ``module_`` (the trained ``torch.nn.Module``, eval mode), ``n_steps_``,
    ``loss_curve_`` (mean training loss per epoch).
    """

    #: True for a single-logit binary detector (BCE loss), False for a K-way softmax (cross-entropy).
    _single_logit = False

    # -- hooks ----------------------------------------------------------------------------------------
    def _build_module(self, image_shape: tuple[int, int, int], n_outputs: int) -> nn.Module:
        raise NotImplementedError

    def _make_optimizer(self, params) -> torch.optim.Optimizer:
        raise NotImplementedError

    def _augment(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Training-time augmentation of a batch, Nx3xHxW float32 in [0,1]; default: none."""
        return X

    def _test_view(self, X: np.ndarray) -> np.ndarray:
        """What the network sees at test time (e.g. a centre crop); default: the image itself."""
        return X

    def _scale(self, x: torch.Tensor) -> torch.Tensor:
        """Map a [0,1] batch to the network's input range; default: unchanged."""
        return x

    # -- shared machinery -----------------------------------------------------------------------------
    def _check_params(self) -> None:
        check_positive("epochs", self.epochs, integer=True)
        check_positive("max_steps", self.max_steps, integer=True, allow_none=True)
        check_positive("batch_size", self.batch_size, integer=True)
        check_positive("learning_rate", self.learning_rate)
        check_positive("num_threads", self.num_threads, integer=True, allow_none=True)
        self._device()

    def _device(self) -> torch.device:
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device={self.device!r} is not a valid torch device (e.g. 'cpu', 'cuda')") from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} requested but CUDA is not available")
        return device

    def _loss(self, logits: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        if self._single_logit:
            return F.binary_cross_entropy_with_logits(logits.squeeze(1), yb.float())
        return F.cross_entropy(logits, yb)

    def _fit(self, X: np.ndarray, y_idx: np.ndarray, n_classes: int) -> None:
        device = self._device()
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        rng = np.random.default_rng(seed)
        n = len(X)
        # a lone leftover image (n % batch_size == 1) is skipped each epoch: batch norm cannot train on it
        steps_per_epoch = n // self.batch_size + int(n % self.batch_size >= 2)
        total = self.epochs * steps_per_epoch
        if self.max_steps is not None:
            total = min(total, self.max_steps)
        n_outputs = 1 if self._single_logit else n_classes
        y_all = torch.from_numpy(y_idx)
        with torch_threads(self.num_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = self._build_module(tuple(X.shape[1:]), n_outputs).to(device)
            optimizer = self._make_optimizer(module.parameters())
            module.train()
            step, loss_curve = 0, []
            bar = tqdm(total=total, desc=type(self).__name__, disable=not self.verbose, leave=False)
            try:
                while step < total:
                    perm = rng.permutation(n)
                    epoch_losses = []
                    for start in range(0, n, self.batch_size):
                        idx = perm[start:start + self.batch_size]
                        if len(idx) == 1 and self.batch_size > 1:  # the lone leftover image
                            continue
                        xb = torch.from_numpy(np.ascontiguousarray(self._augment(X[idx], rng))).to(device)
                        loss = self._loss(module(self._scale(xb)), y_all[idx].to(device))
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        optimizer.step()
                        step += 1
                        epoch_losses.append(loss.item())
                        bar.update(1)
                        bar.set_postfix(loss=f"{epoch_losses[-1]:.4f}")
                        if step >= total:
                            break
                    if not epoch_losses:  # cannot happen with n >= 2 and batch_size >= 2; never spin
                        break
                    loss_curve.append(float(np.mean(epoch_losses)))
            finally:
                bar.close()
        self.module_ = module.eval()
        self.n_steps_ = step
        self.loss_curve_ = loss_curve

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        device = next(self.module_.parameters()).device
        X = self._test_view(X)
        chunks = []
        with torch_threads(self.num_threads), torch.inference_mode():
            for start in range(0, len(X), 4 * self.batch_size):
                xb = torch.from_numpy(np.ascontiguousarray(X[start:start + 4 * self.batch_size])).to(device)
                logits = self.module_(self._scale(xb)).double()
                if self._single_logit:
                    p1 = torch.sigmoid(logits[:, 0])
                    chunks.append(torch.stack([1 - p1, p1], dim=1).cpu().numpy())
                else:
                    chunks.append(torch.softmax(logits, dim=1).cpu().numpy())
        return np.concatenate(chunks)
