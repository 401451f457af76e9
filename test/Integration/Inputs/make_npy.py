"""Writes the .npy files errors.test feeds to attn-run (into argv[1])."""
import os
import sys

import numpy as np

d = sys.argv[1]
os.makedirs(d, exist_ok=True)
z = lambda *s: np.zeros(s, np.float32)
np.save(os.path.join(d, "q.npy"), z(1, 8, 5, 64))
np.save(os.path.join(d, "k.npy"), z(1, 2, 5, 64))
np.save(os.path.join(d, "v.npy"), z(1, 2, 5, 64))
np.save(os.path.join(d, "q_f64.npy"), np.zeros((1, 8, 5, 64)))
np.save(os.path.join(d, "k_d32.npy"), z(1, 2, 5, 32))
np.save(os.path.join(d, "k_rank3.npy"), z(2, 5, 64))
np.save(os.path.join(d, "k_b2.npy"), z(2, 2, 5, 64))
np.save(os.path.join(d, "k_l6.npy"), z(1, 2, 6, 64))
np.save(os.path.join(d, "q_fortran.npy"), np.asfortranarray(z(1, 8, 5, 64)))
with open(os.path.join(d, "q.npy"), "rb") as f:
    data = f.read()
with open(os.path.join(d, "truncated.npy"), "wb") as f:
    f.write(data[:500])
with open(os.path.join(d, "garbage.npy"), "wb") as f:
    f.write(b"this is not an npy file")
with open(os.path.join(d, "badheader.npy"), "wb") as f:
    f.write(b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'   \n")
# A score region reading bias[h, i, j] (grad_bias_noncausal.mlir, region_static_bias.mlir).
np.save(os.path.join(d, "q16.npy"), z(1, 2, 5, 16))
np.save(os.path.join(d, "sc.npy"), z(2))
np.save(os.path.join(d, "bias_short.npy"), z(2, 2, 5))
np.save(os.path.join(d, "dy16.npy"), z(1, 2, 5, 16))
np.save(os.path.join(d, "bias4.npy"), z(2, 4, 4))
