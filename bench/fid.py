"""FID through clean-fid, with the standard Inception when its verified weights are on disk and a
documented offline extractor otherwise. Nothing downloads unless a caller allows it
(``allow_download=True``, ``fpbench run --allow-download``), and then through clean-fid's own downloader.

Extractors (ids go into the manifest and table headers; one is never reported as the other):

- ``"inception"``: clean-fid's TorchScript Inception-V3 (pool3, 2048-d) in clean-fid's "clean" mode
  (PIL bicubic resize to 299x299 in float). Its weights ``inception-2015-12-05.pt`` are read only from
  fpbench's own cache folder, ``<cache root>/weights/`` (:func:`inception_weights_path`; the root is
  ``$FPBENCH_CACHE_DIR`` or ``~/.cache/fpbench``), never from clean-fid's ``/tmp``, where anyone can plant a
  file. Before use the file's SHA-256 must equal :data:`INCEPTION_SHA256`; a file that differs is an
  error (:class:`InceptionWeightsMismatch`), never silently replaced by another extractor.
- ``"random-conv-v1"``: a fixed random-weight conv net, see :class:`RandomConvV1`. Needs no download.
  Its numbers are NOT comparable with Inception FIDs or with published FIDs; they rank models against
  each other on the same data and resolution.
- ``"auto"``: ``"inception"`` if the weights file exists (and verifies: a bad file raises), else
  ``"random-conv-v1"``; with ``allow_download`` a missing file is fetched instead (:func:`resolve_extractor`).

Images are quantised to uint8 first (as if saved as PNG, which is what clean-fid's folder mode sees),
for both extractors. The distance itself is clean-fid's ``fid_from_feats`` (means and ``np.cov``
covariances, then ``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2))`` with scipy's sqrtm).
"""

from __future__ import annotations

import http.client
import tempfile
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from scipy.linalg import LinAlgWarning

from fpbench.atomic import sha256_file, write_atomic
from fpbench.cache import default_root
from fpbench.registry import Registry

INCEPTION_FILENAME = "inception-2015-12-05.pt"
INCEPTION_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/" + INCEPTION_FILENAME
# SHA-256 of the file at INCEPTION_URL (StyleGAN2-ADA's metrics release, what clean-fid downloads; clean-fid
# itself checks nothing). k-diffusion pins the same digest for the same URL (k_diffusion/evaluation.py,
# InceptionV3FeatureExtractor), as do other evaluation code bases that verify their download.
INCEPTION_SHA256 = "f58cb9b6ec323ed63459aa4fb441fe750cfe39fafad6da5cb504a16f19e958f4"


class FeatureExtractor(Protocol):
    """Maps float ``B x 3 x H x W`` images in [0, 1] to a float64 ``B x dim`` numpy array."""

    id: str
    dim: int

    def features(self, images: torch.Tensor) -> np.ndarray: ...


class InceptionWeightsMissing(FileNotFoundError):
    """clean-fid's Inception weights are not on disk (and no download was allowed)."""


class InceptionDownloadFailed(OSError):
    """An allowed download of the Inception weights failed (no network, an HTTP error, a full disk)."""


class InceptionWeightsMismatch(ValueError):
    """A file named like clean-fid's Inception weights holds something else (corrupt, another version or
    planted); fpbench refuses to compute FIDs with it."""


def inception_weights_path() -> Path:
    """The one place fpbench reads Inception weights from: ``<cache root>/weights/inception-2015-12-05.pt``
    (:func:`fpbench.cache.default_root`; set ``FPBENCH_CACHE_DIR`` to move it)."""
    return default_root() / "weights" / INCEPTION_FILENAME


def inception_available() -> bool:
    """Whether the weights file exists (whether it verifies is :func:`verify_inception_weights`'s call)."""
    return inception_weights_path().is_file()


def verify_inception_weights() -> Path:
    """The weights file's path once its SHA-256 equals :data:`INCEPTION_SHA256`.

    Raises :class:`InceptionWeightsMissing` if there is no file and :class:`InceptionWeightsMismatch`
    (naming the file, both digests and the fix) if it holds anything else."""
    path = inception_weights_path()
    if not path.is_file():
        raise InceptionWeightsMissing(
            f"the FID extractor 'inception' needs clean-fid's Inception weights {INCEPTION_FILENAME}, and there "
            f"is no such file at {path}. Fix it one of two ways: put the file there yourself (download "
            f"{INCEPTION_URL}, SHA-256 {INCEPTION_SHA256}), or rerun with --allow-download "
            "(allow_download=True in Python) to let clean-fid fetch it. Offline, --fid-extractor random-conv-v1 "
            "needs no file (its FIDs are not comparable with Inception FIDs)."
        )
    actual = sha256_file(path)
    if actual != INCEPTION_SHA256:
        raise InceptionWeightsMismatch(
            f"{path} is not clean-fid's Inception weights: its SHA-256 is {actual}, expected "
            f"{INCEPTION_SHA256}. fpbench will not let an unknown file decide FIDs. Fix: delete it and "
            f"download {INCEPTION_URL} there again (check it with `sha256sum`; or rerun with --allow-download), "
            "or delete it and use extractor='random-conv-v1' (offline, not comparable with Inception FIDs)."
        )
    return path


def download_inception_weights() -> Path:
    """Fetch the Inception weights to :func:`inception_weights_path` with clean-fid's own downloader
    (``cleanfid.downloads_helper.check_download_inception``: urllib, :data:`INCEPTION_URL`), and return the path.

    clean-fid writes straight into its folder and checks nothing, so it downloads into a private folder beside
    the target; the file moves into place (one rename) only once its SHA-256 equals :data:`INCEPTION_SHA256`.
    An interrupted or wrong download never lies where fpbench reads. Raises :class:`InceptionDownloadFailed`
    (naming the URL and the path) when the fetch fails and :class:`InceptionWeightsMismatch` when the
    server sends another file."""
    from cleanfid import downloads_helper

    path = inception_weights_path()

    def fetch(tmp: Path) -> None:
        with tempfile.TemporaryDirectory(prefix=".inception-download-", dir=tmp.parent) as folder:
            try:
                fetched = Path(downloads_helper.check_download_inception(fpath=folder))
            except (OSError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
                raise InceptionDownloadFailed(
                    f"could not download clean-fid's Inception weights from {INCEPTION_URL} to {path} "
                    f"({reason}). Without a network: download that URL elsewhere and copy the file to {path} "
                    f"(SHA-256 {INCEPTION_SHA256}), or use --fid-extractor random-conv-v1 (offline, not "
                    "comparable with Inception FIDs)."
                ) from None
            actual = sha256_file(fetched)
            if actual != INCEPTION_SHA256:
                raise InceptionWeightsMismatch(
                    f"the file downloaded from {INCEPTION_URL} has SHA-256 {actual}, not {INCEPTION_SHA256}; "
                    f"it was not kept, and nothing was written to {path}. Try again later, or fetch and check "
                    "the file yourself."
                )
            fetched.replace(tmp)

    return write_atomic(path, fetch)


def _to_uint8_levels(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] floats -> float values on the 0..255 integer grid (what a PNG round trip gives)."""
    return (images.detach().float().cpu().clamp(0, 1) * 255).round()


class InceptionClean:
    """clean-fid's Inception-V3 features in "clean" mode (2048-d)."""

    id = "inception"
    dim = 2048

    def __init__(self, device: str | torch.device = "cpu", batch_size: int = 32) -> None:
        path = verify_inception_weights()
        from cleanfid.inception_torchscript import InceptionV3W
        from cleanfid.resize import build_resizer

        self.device = torch.device(device)
        self.batch_size = batch_size
        with warnings.catch_warnings():
            # clean-fid loads the weights with torch.jit.load, deprecated (FutureWarning) in torch 2.14
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.load` is deprecated", category=FutureWarning)
            model = InceptionV3W(str(path.parent), download=False, resize_inside=False)
        self.model = model.to(self.device).eval()
        self.resize = build_resizer("clean")  # HxWx3 [0,255] -> 299x299x3 float32 [0,255]

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> np.ndarray:
        levels = _to_uint8_levels(images).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        out = []
        for start in range(0, len(levels), self.batch_size):
            batch = np.stack([self.resize(img) for img in levels[start:start + self.batch_size]])
            x = torch.from_numpy(batch).permute(0, 3, 1, 2).to(self.device)
            out.append(self.model(x).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim))


class RandomConvV1:
    """Offline extractor ``random-conv-v1``: multi-scale statistics of a fixed random-weight conv net.

    Definition (changing any of it needs a new id): input uint8 levels mapped to [-1, 1], float64.
    Four stages with 8, 16, 32, 64 channels; each stage is a 3x3 conv (zero padding 1, no bias) with
    weights ``N(0, 2 / fan_in)`` drawn in stage order from ``numpy.random.RandomState(20211010)``
    (legacy generator: its stream is frozen by NumPy's compatibility policy, so the weights are the
    same on every machine and version), then ReLU; the stage's features are the per-channel spatial
    mean and spatial standard deviation of the ReLU output; a 2x2 average pool precedes the next
    stage. Output: 2 * (8 + 16 + 32 + 64) = 240 dimensions.

    Why: random conv features with pooled statistics are the classic "random-weight texture"
    descriptor (random-weight nets synthesise textures nearly as well as trained ones when matched
    on such statistics); means and standard deviations at four scales respond to colour, contrast,
    blur, noise and structure at pixel to patch scale, so the distance grows as samples degrade. It
    lacks Inception's semantic features, so it says little about object-level realism. 240
    dimensions keep covariances estimable from a few hundred samples and keep clean-fid's
    ``scipy.linalg.sqrtm`` (cubic in the dimension) cheap on a CPU. Float64 reduces
    machine-dependent rounding.
    """

    id = "random-conv-v1"
    channels = (8, 16, 32, 64)
    seed = 20211010

    def __init__(self, device: str | torch.device = "cpu", batch_size: int = 256) -> None:
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.dim = 2 * sum(self.channels)
        rng = np.random.RandomState(self.seed)
        self.weights = []
        c_in = 3
        for c_out in self.channels:
            fan_in = c_in * 9
            w = rng.standard_normal((c_out, c_in, 3, 3)) * np.sqrt(2.0 / fan_in)
            self.weights.append(torch.from_numpy(w).to(self.device, torch.float64))
            c_in = c_out

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> np.ndarray:
        out = []
        for chunk in _to_uint8_levels(images).split(self.batch_size):
            x = chunk.to(self.device, torch.float64) / 127.5 - 1
            feats = []
            for i, w in enumerate(self.weights):
                if i:
                    x = F.avg_pool2d(x, 2)
                x = F.relu(F.conv2d(x, w, padding=1))
                feats += [x.mean(dim=(2, 3)), x.std(dim=(2, 3), unbiased=False)]
            out.append(torch.cat(feats, 1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim))


FEATURE_EXTRACTORS: Registry[type] = Registry("FID feature extractor")
FEATURE_EXTRACTORS.add(InceptionClean.id, InceptionClean)
FEATURE_EXTRACTORS.add(RandomConvV1.id, RandomConvV1)


def extractor_choices() -> tuple[str, ...]:
    """What a run config's ``evaluation.fid_extractor`` may say: ``"auto"`` and every registered id."""
    return ("auto", *FEATURE_EXTRACTORS.ids())


def resolve_extractor(extractor: str = "auto", *, allow_download: bool = False) -> str:
    """The extractor id a run uses. ``"auto"`` -> ``"inception"`` if its weights are on disk, else
    ``"random-conv-v1"``; other ids are checked against :data:`FEATURE_EXTRACTORS` (with a "did you mean").

    ``"inception"`` without its weights raises :class:`InceptionWeightsMissing` (naming the file, where it
    goes and the fixes), unless ``allow_download``: then clean-fid fetches it
    (:func:`download_inception_weights`). ``"auto"`` with ``allow_download`` fetches it too (the caller
    allowed the network to get the standard extractor) and fails, rather than falling back, when that fails.
    Weights that are on disk but fail verification raise :class:`InceptionWeightsMismatch`: a broken
    Inception file never quietly turns a run's FIDs into random-conv-v1 numbers."""
    if extractor != "auto":
        FEATURE_EXTRACTORS.get(extractor)
    if extractor == "auto" and not allow_download and not inception_available():
        return RandomConvV1.id
    if extractor in ("auto", InceptionClean.id):
        if allow_download and not inception_available():
            download_inception_weights()
        verify_inception_weights()
        return InceptionClean.id
    return extractor


def extractor_key(extractor: str) -> str:
    """What a cached FID depends on besides the images: the extractor id and, for Inception, a hash of
    the (verified) weights file it reads."""
    extractor = resolve_extractor(extractor)
    if extractor != InceptionClean.id:
        return extractor
    return f"{extractor}:{sha256_file(verify_inception_weights())[:16]}"


def get_extractor(extractor: str = "auto", *, device: str | torch.device = "cpu") -> FeatureExtractor:
    return FEATURE_EXTRACTORS.get(resolve_extractor(extractor))(device=device)


def _check_images(images: torch.Tensor, name: str) -> None:
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise TypeError(f"{name} must be a float tensor in [0, 1], got {getattr(images, 'dtype', type(images))}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must be N x 3 x H x W, got shape {tuple(images.shape)}")
    if images.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 images for a covariance, got {images.shape[0]}")
    lo, hi = float(images.min()), float(images.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(f"{name} must lie in [0, 1], found values in [{lo:.4g}, {hi:.4g}]")


def extract_features(
    images: torch.Tensor, extractor: str | FeatureExtractor = "auto", *, device: str | torch.device = "cpu"
) -> tuple[np.ndarray, str]:
    """Features ``N x dim`` (float64) of float ``N x 3 x H x W`` images in [0, 1], and the extractor id."""
    _check_images(images, "images")
    fx = get_extractor(extractor, device=device) if isinstance(extractor, str) else extractor
    return fx.features(images), fx.id


def fid_from_features(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """clean-fid's ``fid_from_feats`` on two ``N x dim`` feature arrays. Use N well above ``dim``
    (240 for random-conv-v1, 2048 for Inception): with fewer samples the estimate is biased and noisy."""
    from cleanfid.fid import fid_from_feats

    with warnings.catch_warnings():
        # clean-fid 0.1.35 calls scipy.linalg.sqrtm(..., disp=False), deprecated since SciPy 1.16;
        # silence exactly that message (pytest turns warnings into errors). With fewer samples than
        # feature dimensions the covariances are singular and scipy warns that sqrtm "might be
        # inaccurate"; clean-fid handles that case itself (eps on the diagonal if non-finite).
        warnings.filterwarnings("ignore", message=r"The `disp` argument is deprecated", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=LinAlgWarning)
        return float(fid_from_feats(np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)))


def compute_fid(
    images_a: torch.Tensor,
    images_b: torch.Tensor,
    extractor: str = "auto",
    *,
    device: str | torch.device = "cpu",
) -> tuple[float, str]:
    """FID between two sets of float ``N x 3 x H x W`` images in [0, 1] (same H x W).

    Returns ``(fid, extractor_id)``; the id says which extractor actually ran ("auto" resolves to
    one). Lower is better; FID(x, x) is 0 up to rounding.

    >>> x = torch.rand(64, 3, 16, 16)
    >>> fid, fx = compute_fid(x, x, "random-conv-v1")
    >>> fx, abs(fid) < 1e-6
    ('random-conv-v1', True)
    """
    feats_a, feats_b, extractor_id = fid_features(images_a, images_b, extractor, device=device)
    return fid_from_features(feats_a, feats_b), extractor_id


def fid_features(
    images_a: torch.Tensor,
    images_b: torch.Tensor,
    extractor: str = "auto",
    *,
    device: str | torch.device = "cpu",
) -> tuple[np.ndarray, np.ndarray, str]:
    """The first step of :func:`compute_fid`: both image sets' features and the extractor id, for a FID
    whose features are extracted in one process and whose distance (:func:`fid_from_features`, whose last
    bits depend on the BLAS threads of numpy and SciPy) is taken in another."""
    _check_images(images_a, "images_a")
    _check_images(images_b, "images_b")
    if images_a.shape[2:] != images_b.shape[2:]:
        raise ValueError(f"both image sets must have one size, got {tuple(images_a.shape[2:])} "
                         f"and {tuple(images_b.shape[2:])}")
    fx = get_extractor(extractor, device=device)
    return fx.features(images_a), fx.features(images_b), fx.id
