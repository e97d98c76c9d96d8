"""Fingerprint strength vs transfer: train the quick-preset fingerprint with a given L2 weight, stamp the
20k training crops, train one 2000-step DCGAN on them and decode 1000 of its samples.

    python scripts/transfer_tradeoff.py --l2-weight 5     # ~6 min on 2 CPU cores

Prints data bit accuracy / PSNR on held-out photos and the DCGAN's transfer bit accuracy / pass rate.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from bench.data.builtin import BuiltinData, crops
from bench.fingerprint.embedding import decode, embed, random_fingerprint, to_uint8
from bench.fingerprint.matching import bit_accuracy, is_fingerprinted
from bench.fingerprint.training import train_fingerprint
from bench.generators import GanConfig, sample, train_gan
from bench.metrics import psnr
from bench.presets import get_preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--l2-weight", type=float, required=True)
    parser.add_argument("--gan-steps", type=int, default=2000)
    args = parser.parse_args()
    preset = get_preset("quick")
    train = crops(BuiltinData("train", preset.n_train, preset.resolution))
    test = crops(BuiltinData("test", preset.n_test, preset.resolution))
    cfg = replace(preset.fingerprint, l2_weight=args.l2_weight)
    start = time.time()
    models = train_fingerprint(train, cfg, progress=False).models
    fp = random_fingerprint(cfg.n_bits, 7)
    stamped = embed(models.encoder, test, fp)
    print(f"l2_weight={args.l2_weight}: data bit accuracy {bit_accuracy(decode(models.decoder, stamped), fp).mean():.4f}, "
          f"PSNR {psnr(test.float() / 255, stamped.float() / 255).mean():.2f} dB ({time.time() - start:.0f} s)", flush=True)
    gan = train_gan(embed(models.encoder, train, fp), GanConfig(arch="dcgan", resolution=preset.resolution,
                    latent_dim=64, width=32, steps=args.gan_steps, seed=1), progress=False)
    bits = decode(models.decoder, to_uint8(sample(gan.generator, 1000, seed=1)))
    print(f"l2_weight={args.l2_weight}: transfer bit accuracy {bit_accuracy(bits, fp).mean():.4f}, pass rate "
          f"{is_fingerprinted(bits, fp, preset.alpha).float().mean():.3f} ({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
