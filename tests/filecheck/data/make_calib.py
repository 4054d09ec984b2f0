"""Writes calib.npy, the calibration rows of the quantize-int8 golden cases (run from this folder)."""

import numpy as np

if __name__ == "__main__":
    rows = np.random.default_rng(0).uniform(-1.0, 1.0, size=(8, 3)).round(2).astype(np.float32)
    np.save("calib.npy", rows)
