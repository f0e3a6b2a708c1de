"""Deterministic text embeddings: hashed word and character n-gram features folded into the dimension.

Texts that share words and spellings share features, so similar texts have a higher cosine similarity than
unrelated ones; the same text always gives the same vector, in every process (crc32, not hash()).
"""

from __future__ import annotations

import itertools
import math
import re
from zlib import crc32

from bedrock_proxy.emulator.toolgen import fold

_SPLIT = re.compile(r"[^a-z0-9]+")
_SPREAD = 3  # dimensions each feature touches, so vectors are not too sparse


def _features(text: str) -> dict[str, float]:
    words = [w for w in _SPLIT.split(fold(text)) if w]
    features: dict[str, float] = {}
    for word in words:
        features["w:" + word] = features.get("w:" + word, 0.0) + 1.0
        padded = f" {word} "
        for i in range(len(padded) - 2):
            gram = "c:" + padded[i : i + 3]
            features[gram] = features.get(gram, 0.0) + 0.35
    for first, second in itertools.pairwise(words):
        key = f"b:{first} {second}"
        features[key] = features.get(key, 0.0) + 0.5
    return features


def embed(text: str, dimensions: int, normalize: bool = True) -> list[float]:
    """A `dimensions`-long vector for `text`; unit length when `normalize`."""
    vector = [0.0] * dimensions
    for feature, weight in _features(text).items():
        digest = crc32(feature.encode())
        for k in range(_SPREAD):
            h = crc32(k.to_bytes(1, "big"), digest)
            vector[h % dimensions] += weight if h & 0x80000000 else -weight
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        vector[0], norm = 1.0, 1.0
    scale = 1.0 / norm if normalize else 0.05
    return [v * scale for v in vector]


def binary(vector: list[float]) -> list[int]:
    """Titan v2's binary embedding: one 0/1 per dimension."""
    return [1 if v > 0 else 0 for v in vector]


def int8(vector: list[float]) -> list[int]:
    peak = max((abs(v) for v in vector), default=1.0) or 1.0
    return [max(-128, min(127, round(v / peak * 127))) for v in vector]


def packed_bits(vector: list[float], signed: bool) -> list[int]:
    """Cohere's binary/ubinary: eight dimensions per byte."""
    bits = binary(vector)
    values = []
    for i in range(0, len(bits), 8):
        byte = 0
        for bit in bits[i : i + 8]:
            byte = (byte << 1) | bit
        values.append(byte - 128 if signed else byte)
    return values
