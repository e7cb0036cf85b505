"""Fingerprint stage: shingles of normalised tokens, MinHash signatures, LSH band keys.

Shingles are k consecutive normalised tokens hashed to 64 bits with a polynomial rolling hash (vectorised in numpy:
the same value in every process, so corpus and submission agree). Signatures are datasketch MinHashes
(`MinHash.bulk`, xxh32 as the hash function) of each fragment's shingle *set*. LSH splits a signature into `bands`
bands of `rows` values; `bands`/`rows` come from datasketch's own optimiser for the chosen threshold, as in
`datasketch.MinHashLSH`, while the index lives in an on-disk store. Each band is identical with probability J^rows for
Jaccard similarity J; `datasketch.MinHashLSH` proposes a pair when any band is, the match stage when at least
`MatchSettings.min_band_hits` are (binomial in the number of bands).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from provscan.fragments import NormalisedFile
from provscan.walk import Skip

_ROLL = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (golden ratio); arithmetic wraps mod 2**64
_BAND_MUL = np.uint64(0xC2B2AE3D27D4EB4F)


@dataclass(frozen=True)
class FingerprintSettings:
    """Everything that must be equal between a corpus and a scan for their fingerprints to be comparable.

    `bands`/`rows` of 0 mean "derive from the threshold"; a corpus records the derived values so a scan reuses
    them without running the optimiser (which needs scipy) again.
    """

    k: int = 9
    num_perm: int = 128
    lsh_threshold: float = 0.3
    seed: int = 1
    bands: int = 0
    rows: int = 0

    @property
    def bands_rows(self) -> tuple[int, int]:
        if self.bands and self.rows:
            return self.bands, self.rows
        return optimal_bands(self.lsh_threshold, self.num_perm)


@cache
def optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) minimising false positives + false negatives at `threshold` (datasketch's optimiser)."""
    from datasketch.lsh import _optimal_param

    return _optimal_param(threshold, num_perm, 0.5, 0.5)


def shingles(codes: np.ndarray, k: int) -> np.ndarray:
    """Hash of every window of k consecutive token codes, in stream order (position i covers tokens i..i+k-1)."""
    n = codes.size - k + 1
    if n <= 0:
        return np.empty(0, dtype=np.uint64)
    values = codes.astype(np.uint64)
    out = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            out = out * _ROLL + values[j : j + n] + np.uint64(1)
        out ^= out >> np.uint64(29)
        out *= _BAND_MUL
        out ^= out >> np.uint64(32)
    return out


def signatures(shingle_sets: list[np.ndarray], settings: FingerprintSettings) -> np.ndarray:
    """MinHash signature matrix (n, num_perm) of uint32 for each unique-shingle array."""
    import xxhash
    from datasketch import MinHash

    if not shingle_sets:
        return np.empty((0, settings.num_perm), dtype=np.uint32)
    # A uint64 array viewed as 8-byte strings hands datasketch bytes without a Python loop of our own; numpy strips
    # trailing NUL bytes of fixed-width strings, which is still one-to-one for equal-width values.
    minhashes = MinHash.bulk(
        [s.view("S8") for s in shingle_sets],
        num_perm=settings.num_perm,
        seed=settings.seed,
        hashfunc=xxhash.xxh32_intdigest,
    )
    return np.vstack([m.hashvalues for m in minhashes]).astype(np.uint32)


def band_keys(signature_matrix: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One signed 64-bit key per (fragment, band): equal keys mean an identical band (up to 2**-64 collisions)."""
    n = signature_matrix.shape[0]
    sig = signature_matrix[:, : bands * rows].astype(np.uint64).reshape(n, bands, rows)
    keys = np.broadcast_to(np.arange(1, bands + 1, dtype=np.uint64) * _BAND_MUL, (n, bands)).copy()
    with np.errstate(over="ignore"):
        for j in range(rows):
            keys = keys * _ROLL + sig[:, :, j]
            keys ^= keys >> np.uint64(31)
    return keys.view(np.int64)


def unique_shingles(codes: np.ndarray, k: int) -> np.ndarray:
    return np.unique(shingles(codes, k))


@dataclass
class FingerprintedFile:
    """A normalised file plus the LSH band keys of its indexable fragments (those of at least `min_tokens`)."""

    normalised: NormalisedFile
    indexed: list[int]  # indices into normalised.fragments, one per row of band_keys
    band_keys: np.ndarray  # (len(indexed), bands) int64


def fingerprint_file(normalised: NormalisedFile, settings: FingerprintSettings, min_tokens: int) -> FingerprintedFile:
    indexed, sets = [], []
    for index, frag in enumerate(normalised.fragments):
        if frag.n_tokens >= max(min_tokens, settings.k):
            indexed.append(index)
            sets.append(unique_shingles(normalised.codes[frag.tok_start : frag.tok_end], settings.k))
    bands, rows = settings.bands_rows
    keys = band_keys(signatures(sets, settings), bands, rows) if sets else np.empty((0, bands), dtype=np.int64)
    return FingerprintedFile(normalised, indexed, keys)


@dataclass(frozen=True)
class AnalysisJob:
    """One file to parse, normalise and fingerprint in a worker process (picklable)."""

    path: str
    text: str
    settings: FingerprintSettings
    min_tokens: int
    keep_comments: bool = False


def analyse(job: AnalysisJob) -> FingerprintedFile | Skip:
    """Parse -> normalise -> fingerprint one file, or the reason it was not (never raises: one bad file must not
    stop a scan of thousands)."""
    from provscan.fragments import normalise
    from provscan.parse import parse_text

    try:
        parsed = parse_text(job.path, job.text)
        if parsed is None:
            return Skip(job.path, "unsupported-language", "no parser for this file type (by suffix or shebang)")
        return fingerprint_file(normalise(parsed, job.min_tokens, job.keep_comments), job.settings, job.min_tokens)
    except Exception as error:  # noqa: BLE001 - reported per file, with the file named
        return Skip(job.path, "parse-failed", f"could not be parsed or fingerprinted: {type(error).__name__}: {error}")
