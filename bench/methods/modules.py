"""A method behind the network interface the adaptive attacks use: an encoder ``E(x, w)`` (float images
in [0, 1], N x n_bits bits -> stamped float images) and a decoder (images -> logits), with the ``n_bits``
and ``resolution`` the attacks read. An adversary's own copy of a classical scheme then stamps and reads
like the learned networks. Neither has a gradient: attacks that differentiate through a decoder need a
learned one."""

from __future__ import annotations

import torch
from torch import nn

from fpbench.methods.base import FingerprintMethod

EPS = 1e-4  # soft bits are clipped to [EPS, 1 - EPS] before the logit


class _MethodModule(nn.Module):
    def __init__(self, method: FingerprintMethod) -> None:
        super().__init__()
        self.method = method
        self.n_bits, self.resolution = method.n_bits, method.resolution
        # the attacks find their device from a parameter; this one holds nothing
        self.anchor = nn.Parameter(torch.zeros(0), requires_grad=False)


class MethodEncoder(_MethodModule):
    def forward(self, images: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
        stamped = self.method.embed(images.detach().cpu().clamp(0, 1), bits.detach().cpu())
        return stamped.float().div(255).to(images.device)


class MethodDecoder(_MethodModule):
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        soft = self.method.decode(images.detach().cpu().clamp(0, 1))
        return torch.logit(soft.clamp(EPS, 1 - EPS)).to(images.device)
