"""Throughput of the fingerprint encoder and decoder on CPU (pytest-benchmark; `tox -e perf`).

images/s = batch / mean time; reported in the benchmark's extra_info."""

import pytest
import torch

from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder

pytestmark = pytest.mark.perf
BATCH = 64


@pytest.mark.parametrize("resolution", [32, 128])
class TestFingerprintThroughput:
    def test_encoder(self, benchmark, resolution):
        enc = FingerprintEncoder(100, resolution).eval()
        x = torch.rand(BATCH, 3, resolution, resolution)
        bits = torch.randint(0, 2, (BATCH, 100)).float()
        with torch.no_grad():
            out = benchmark(enc, x, bits)
        assert out.shape == x.shape
        benchmark.extra_info["images_per_second"] = BATCH / benchmark.stats["mean"]

    def test_decoder(self, benchmark, resolution):
        dec = FingerprintDecoder(100, resolution).eval()
        x = torch.rand(BATCH, 3, resolution, resolution)
        with torch.no_grad():
            out = benchmark(dec, x)
        assert out.shape == (BATCH, 100)
        benchmark.extra_info["images_per_second"] = BATCH / benchmark.stats["mean"]

    def test_training_step(self, benchmark, resolution):
        enc, dec = FingerprintEncoder(100, resolution), FingerprintDecoder(100, resolution)
        opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-4)
        x = torch.rand(BATCH, 3, resolution, resolution)
        bits = torch.randint(0, 2, (BATCH, 100)).float()

        def step():
            stamped = enc(x, bits)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(dec(stamped), bits) \
                + torch.nn.functional.mse_loss(stamped, x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        assert torch.isfinite(benchmark(step))
        benchmark.extra_info["images_per_second"] = BATCH / benchmark.stats["mean"]
