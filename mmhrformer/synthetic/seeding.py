"""One random stream per (seed, split), so a split's content does not depend on which other
splits are written in the same call."""
import zlib

import numpy as np


def split_rng(seed: int, split: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(split.encode())])
