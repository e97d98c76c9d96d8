"""Fingerprint strength and generator choice vs transfer: train the quick-preset fingerprint (optionally
with another L2 weight), stamp the 20k training crops, train one GAN on them and decode 1000 samples.

    python scripts/transfer_tradeoff.py --l2-weight 5                  # one 4000-step DCGAN, ~7 min on 2 cores
    python scripts/transfer_tradeoff.py --hardening-steps 0 --gan-steps 2000
    python scripts/transfer_tradeoff.py --arch resnet --width 16 --gan-steps 1000 --discriminator resnet
    python scripts/transfer_tradeoff.py --arch resnet --width 16 --gan-steps 1000 --discriminator dcgan
    python scripts/transfer_tradeoff.py --gan-steps 5000 --batch-size 32 --lr 3e-4   # the quick DCGANs

Prints data bit accuracy / PSNR on held-out photos and the GAN's transfer bit accuracy, 1%/5%/50%
quantiles, pass rate (p < alpha), the share of samples short of the quick zoo's attribution threshold
(p < alpha / 4: four registered fingerprints) and of saturated pixels (where a residual fingerprint cannot
live).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from fpbench.data.builtin import BuiltinData, crops
from fpbench.fingerprint.embedding import decode, embed, random_fingerprint, to_uint8
from fpbench.fingerprint.matching import bit_accuracy, is_fingerprinted
from fpbench.fingerprint.training import train_fingerprint
from fpbench.generators import GanConfig, sample, train_gan
from fpbench.metrics import psnr
from fpbench.pipeline.presets import get_preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--l2-weight", type=float, default=None, help="default: the quick preset's")
    parser.add_argument("--hardening-steps", type=int, default=None, help="default: the quick preset's (0: off)")
    parser.add_argument("--arch", default="dcgan")
    parser.add_argument("--discriminator", default="", help="architecture whose D is used (default: arch's own)")
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--gan-steps", type=int, default=4000)
    parser.add_argument("--loss", default="hinge")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate of G and D")
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    preset = get_preset("quick")
    train = crops(BuiltinData("train", preset.data.n_train, preset.resolution))
    test = crops(BuiltinData("test", preset.data.n_test, preset.resolution))
    cfg = preset.fingerprint
    if args.l2_weight is not None:
        cfg = replace(cfg, l2_weight=args.l2_weight)
    if args.hardening_steps is not None:
        cfg = replace(cfg, hardening_steps=args.hardening_steps)
    start = time.time()
    models = train_fingerprint(train, cfg, progress=False).models
    fp = random_fingerprint(cfg.n_bits, 7)
    stamped = embed(models.encoder, test, fp)
    print(f"l2_weight={cfg.l2_weight}: data bit accuracy {bit_accuracy(decode(models.decoder, stamped), fp).mean():.4f}, "
          f"PSNR {psnr(test.float() / 255, stamped.float() / 255).mean():.2f} dB ({time.time() - start:.0f} s)", flush=True)
    gan_cfg = GanConfig(arch=args.arch, discriminator=args.discriminator, resolution=preset.resolution, latent_dim=64,
                        width=args.width, steps=args.gan_steps, loss=args.loss, seed=args.seed,
                        batch_size=args.batch_size, lr_g=args.lr, lr_d=args.lr)
    gan = train_gan(embed(models.encoder, train, fp), gan_cfg, progress=False)
    samples = to_uint8(sample(gan.generator, args.samples, seed=1))
    bits = decode(models.decoder, samples)
    acc = bit_accuracy(bits, fp)
    q = torch.quantile(acc, torch.tensor([0.01, 0.05, 0.5])).tolist()
    x = samples.float() / 255
    saturated = ((x < 0.03) | (x > 0.97)).float().mean()
    short = ~is_fingerprinted(bits, fp, preset.alpha / 4)
    print(f"{args.arch} (D: {args.discriminator or args.arch}, {args.gan_steps} steps x batch {args.batch_size}, "
          f"lr {args.lr}): transfer bit accuracy {acc.mean():.4f} (q01 {q[0]:.3f}, q05 {q[1]:.3f}, median {q[2]:.3f}), "
          f"pass rate {is_fingerprinted(bits, fp, preset.alpha).float().mean():.3f}, short of the zoo threshold "
          f"{int(short.sum())}/{len(bits)}, saturated pixels {saturated:.3f} ({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
