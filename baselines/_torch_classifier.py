"""The one mini-batch training loop shared by the CNN baselines (yu2019, wang2020).

A subclass supplies the network (``_build_module``), the optimiser (``_make_optimizer``) and, if it needs
them, training-time augmentation (``_augment``, numpy in [0,1]), a test-time view (``_test_view``) and the
input scaling the network expects (``_scale``). Everything else (seeding, batching, the loss, progress bar,
thread count, batched inference) lives here once.

Training runs to convergence within a budget: ``validation_fraction`` of the training images (stratified by
class, drawn from the training set only) are held out; after every epoch the loss and accuracy on them are
recorded (``val_loss_curve_``, ``val_accuracy_curve_``), the weights of the last epoch that lowered the
validation loss by at least 1e-4 are kept,
and training stops once ``patience`` epochs brought no improvement, or after ``epochs`` (the budget). The
learning rate follows a cosine schedule over the budget. ``learned_`` says whether the best validation
accuracy beat always guessing the largest class (``val_chance_``) by more than three binomial standard
errors: a baseline that did not learn is no result. It is None (cannot tell) when the validation set is too
small for that margin to fit below 1, or there is none.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split
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


def _to_device(X: np.ndarray, device: torch.device) -> torch.Tensor:
    """A numpy batch as a channels-last tensor on ``device``: the layout CPU convolutions run fastest in
    (measured on 2 cores: wang2020's ResNet step 134 -> 103 ms, yu2019's 21 -> 15 ms; same values up to
    float summation order)."""
    return torch.from_numpy(np.ascontiguousarray(X)).to(device).contiguous(memory_format=torch.channels_last)


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

    Training to convergence (see the module docstring), declared in each subclass' ``__init__`` too:
    ``validation_fraction`` (0: no validation, no early stopping), ``patience`` (epochs without a lower
    validation loss before stopping) and ``schedule`` ("cosine" or "constant").

    Learned state: ``module_`` (the trained ``torch.nn.Module``, eval mode, the best epoch's weights),
    ``n_steps_``, ``loss_curve_`` (mean training loss per epoch), ``val_loss_curve_`` and
    ``val_accuracy_curve_`` (per epoch), ``best_epoch_`` (1-based; 0 without validation), ``val_chance_``,
    ``learned_``, ``fit_seconds_``.
    """

    validation_fraction = 0.0  # class-level defaults, for subclasses that do not declare them
    patience = 5
    schedule = "constant"

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
        if not 0 <= self.validation_fraction < 0.5:
            raise ValueError(f"validation_fraction must be in [0, 0.5), got {self.validation_fraction!r}")
        check_positive("patience", self.patience, integer=True)
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
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

    def _split(self, y_idx: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(train, validation) indices: ``validation_fraction`` of each class, at least one image each."""
        every = np.arange(len(y_idx))
        if not self.validation_fraction:
            return every, every[:0]
        counts = np.bincount(y_idx)
        if counts[counts > 0].min() < 2:
            raise ValueError(f"{type(self).__name__}: validation needs at least 2 images of every class, got "
                             f"{counts.tolist()}; give more images or set validation_fraction=0")
        n_val = max(int(round(self.validation_fraction * len(y_idx))), int((counts > 0).sum()))
        train, val = train_test_split(every, test_size=n_val, stratify=y_idx, random_state=seed % 2**32)
        return np.sort(train), np.sort(val)

    def _validate(self, module: nn.Module, X: np.ndarray, y: torch.Tensor) -> tuple[float, float]:
        """(mean loss, accuracy) of ``module`` on validation images, as it would see them at test time."""
        device = next(module.parameters()).device
        module.eval()
        losses, right = [], 0
        view = self._test_view(X)
        with torch.no_grad():
            for start in range(0, len(X), 4 * self.batch_size):
                xb = _to_device(view[start:start + 4 * self.batch_size], device)
                yb = y[start:start + 4 * self.batch_size].to(device)
                logits = module(self._scale(xb))
                losses.append(float(self._loss(logits, yb)) * len(yb))
                guess = (logits[:, 0] > 0).long() if self._single_logit else logits.argmax(1)
                right += int((guess == yb).sum())
        module.train()
        return sum(losses) / len(X), right / len(X)

    def _fit(self, X: np.ndarray, y_idx: np.ndarray, n_classes: int) -> None:
        started = time.perf_counter()
        device = self._device()
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        rng = np.random.default_rng(seed)
        train, val = self._split(y_idx, seed)
        X_val, y_val = X[val], torch.from_numpy(y_idx[val])
        X, y_idx = X[train], y_idx[train]
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
            module = self._build_module(tuple(X.shape[1:]), n_outputs).to(device, memory_format=torch.channels_last)
            optimizer = self._make_optimizer(module.parameters())
            schedule = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total))
                        if self.schedule == "cosine" else None)
            module.train()
            step, loss_curve, val_loss_curve, val_accuracy_curve = 0, [], [], []
            best, best_state, best_epoch, stale = math.inf, None, 0, 0
            bar = tqdm(total=total, desc=type(self).__name__, disable=not self.verbose, leave=False)
            try:
                while step < total:
                    perm = rng.permutation(n)
                    epoch_losses = []
                    for start in range(0, n, self.batch_size):
                        idx = perm[start:start + self.batch_size]
                        if len(idx) == 1 and self.batch_size > 1:  # the lone leftover image
                            continue
                        xb = _to_device(self._augment(X[idx], rng), device)
                        loss = self._loss(module(self._scale(xb)), y_all[idx].to(device))
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        optimizer.step()
                        if schedule is not None:
                            schedule.step()
                        step += 1
                        epoch_losses.append(loss.detach())
                        bar.update(1)
                        if step >= total:
                            break
                    if not epoch_losses:  # cannot happen with n >= 2 and batch_size >= 2; never spin
                        break
                    loss_curve.append(float(torch.stack(epoch_losses).mean()))
                    if len(val):
                        val_loss, val_accuracy = self._validate(module, X_val, y_val)
                        val_loss_curve.append(val_loss)
                        val_accuracy_curve.append(val_accuracy)
                        bar.set_postfix(loss=f"{loss_curve[-1]:.4f}", val_loss=f"{val_loss:.4f}",
                                        val_acc=f"{val_accuracy:.3f}")
                        if val_loss < best - 1e-4:
                            best, best_epoch, stale = val_loss, len(val_loss_curve), 0
                            best_state = copy.deepcopy(module.state_dict())
                        else:
                            stale += 1
                            if stale >= self.patience:
                                break
                    else:
                        bar.set_postfix(loss=f"{loss_curve[-1]:.4f}")
            finally:
                bar.close()
            if best_state is not None:
                module.load_state_dict(best_state)
        self.module_ = module.eval()
        self.n_steps_ = step
        self.loss_curve_ = loss_curve
        self.val_loss_curve_ = val_loss_curve
        self.val_accuracy_curve_ = val_accuracy_curve
        self.best_epoch_ = best_epoch
        counts = np.bincount(y_val.numpy(), minlength=n_classes) if len(val) else np.zeros(1)
        self.val_chance_ = float(counts.max() / max(1, counts.sum()))
        margin = 3 * math.sqrt(self.val_chance_ * (1 - self.val_chance_) / len(val)) if len(val) else math.inf
        if self.val_chance_ + margin >= 1:  # too few validation images to tell learning from luck
            self.learned_ = None
        else:
            self.learned_ = bool(val_accuracy_curve[best_epoch - 1] > self.val_chance_ + margin)
        self.fit_seconds_ = time.perf_counter() - started

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        device = next(self.module_.parameters()).device
        X = self._test_view(X)
        chunks = []
        with torch_threads(self.num_threads), torch.inference_mode():
            for start in range(0, len(X), 4 * self.batch_size):
                xb = _to_device(X[start:start + 4 * self.batch_size], device)
                logits = self.module_(self._scale(xb)).double()
                if self._single_logit:
                    p1 = torch.sigmoid(logits[:, 0])
                    chunks.append(torch.stack([1 - p1, p1], dim=1).cpu().numpy())
                else:
                    chunks.append(torch.softmax(logits, dim=1).cpu().numpy())
        return np.concatenate(chunks)
