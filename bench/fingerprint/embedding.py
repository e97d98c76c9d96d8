"""Stamping fingerprints into images and decoding them back.

``embed`` applies the frozen encoder batch by batch; ``fingerprint=`` one bit string stamps every image
with it (the paper's one-fingerprint-per-model mode), or an Nxn tensor gives each image its own.
Outputs are quantised to uint8 like files written to disk, since generators train on saved images.

``decode`` accepts images of any size: when they are not RxR they are resized to the decoder's
resolution (bilinear, antialiased when shrinking) before decoding; the authors' detector instead
failed on other sizes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder


def random_fingerprint(n_bits: int, seed: int) -> torch.Tensor:
    """A reproducible {0,1} fingerprint of ``n_bits`` (float tensor)."""
    return torch.randint(0, 2, (n_bits,), generator=torch.Generator().manual_seed(seed)).float()


def bits_to_str(bits: torch.Tensor) -> str:
    return "".join(str(int(b)) for b in bits.round().long().tolist())


def str_to_bits(text: str) -> torch.Tensor:
    text = text.strip()
    if not text or set(text) - {"0", "1"}:
        raise ValueError(f"a fingerprint is a string of 0s and 1s, got {text[:40]!r}")
    return torch.tensor([float(c) for c in text])


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (0..255) or float [0,1] Bx3xHxW -> float32 [0,1], with clear errors for other inputs."""
    if images.ndim != 4 or images.shape[1] != 3:
        hint = " (grayscale? convert to RGB)" if images.ndim == 4 and images.shape[1] in (1, 4) else ""
        raise ValueError(f"images must be Bx3xHxW, got shape {tuple(images.shape)}{hint}")
    if images.dtype == torch.uint8:
        return images.float().div(255)
    if not images.is_floating_point():
        raise ValueError(f"images must be uint8 or float in [0,1], got dtype {images.dtype}")
    if images.numel() and (torch.isnan(images).any() or images.min() < 0 or images.max() > 1):
        raise ValueError("float images must be finite and in [0,1] (divide uint8 data by 255)")
    return images.float()


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    return images.mul(255).round().clamp(0, 255).to(torch.uint8)


@torch.no_grad()
def embed(encoder: FingerprintEncoder, images: torch.Tensor, fingerprint: torch.Tensor, *,
          batch_size: int = 256, device: str = "cpu", strength: float | None = None) -> torch.Tensor:
    """Stamp ``fingerprint`` (n_bits, or Nxn_bits) into uint8/float Nx3xRxR images -> uint8 Nx3xRxR.
    ``strength``: scale of the encoder's change for this call (default: ``encoder.strength``)."""
    if fingerprint.ndim == 1:
        fingerprint = fingerprint.expand(len(images), -1)
    if fingerprint.shape != (len(images), encoder.n_bits):
        raise ValueError(f"fingerprint must have {encoder.n_bits} bits (or one row per image), "
                         f"got shape {tuple(fingerprint.shape)}")
    if images.shape[-2:] != (encoder.resolution, encoder.resolution):
        raise ValueError(f"the encoder was trained at {encoder.resolution}x{encoder.resolution}; got images of "
                         f"{images.shape[-2]}x{images.shape[-1]} (resize them first, e.g. fpbench.data.folder)")
    encoder = encoder.eval().to(device)
    previous = encoder.strength
    encoder.strength = previous if strength is None else float(strength)
    out = torch.empty(len(images), 3, encoder.resolution, encoder.resolution, dtype=torch.uint8)
    try:
        for i in range(0, len(images), batch_size):
            x = to_float(images[i:i + batch_size]).to(device)
            out[i:i + batch_size] = to_uint8(encoder(x, fingerprint[i:i + batch_size].float().to(device)).cpu())
    finally:
        encoder.strength = previous
    return out


def resize_for(images: torch.Tensor, resolution: int) -> torch.Tensor:
    if images.shape[-2:] == (resolution, resolution):
        return images
    shrink = images.shape[-1] > resolution or images.shape[-2] > resolution
    return F.interpolate(images, size=(resolution, resolution), mode="bilinear", align_corners=False,
                         antialias=shrink).clamp(0, 1)


@torch.no_grad()
def decode_logits(decoder: FingerprintDecoder, images: torch.Tensor, *, batch_size: int = 512,
                  device: str = "cpu") -> torch.Tensor:
    decoder = decoder.eval().to(device)
    chunks = []
    for i in range(0, len(images), batch_size):
        x = resize_for(to_float(images[i:i + batch_size]), decoder.resolution).to(device)
        chunks.append(decoder(x).cpu())
    return torch.cat(chunks) if chunks else torch.empty(0, decoder.n_bits)


def decode(decoder: FingerprintDecoder, images: torch.Tensor, **kwargs: object) -> torch.Tensor:
    """Decoded bits {0,1} (float Nxn_bits) for uint8 or float images of any size."""
    return (decode_logits(decoder, images, **kwargs) > 0).float()  # type: ignore[arg-type]
