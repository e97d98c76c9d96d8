"""The artificial-fingerprint method: encoder/decoder, training, embedding, decoding, matching."""
