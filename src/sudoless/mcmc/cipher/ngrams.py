"""Letter n-gram statistics: counted from running text, or derived exactly from word frequency lists.

A word list says nothing directly about letters that straddle word boundaries (``e_t`` in "the table").
:func:`derive_counts` treats text as a stream of tokens (a word, plus a trailing boundary symbol in the
spaced case) and computes the expected n-gram count per token in closed form: windows inside one token,
plus windows that run off a token's end into the tokens that follow. The continuation is modelled as a
mix of the word-pair list (``lam``) and independent draws from the unigram list, so short words spanning a
whole window ("to be a") are counted too, with no sampling noise.

The result feeds :func:`conditional_logprobs`, which turns counts of every order into interpolated
``log P(c_n | c_1..c_{n-1})`` tables indexed by the base-``A`` code of the n-gram (first symbol most
significant), the layout the solver gathers from.
"""

from __future__ import annotations

import numpy as np


def _codes(matrix: np.ndarray, start: np.ndarray | int, k: int, alphabet: int) -> np.ndarray:
    """Base-``alphabet`` codes of ``matrix[i, start_i : start_i + k]`` (callers guarantee the range exists)."""
    rows = np.arange(matrix.shape[0])
    start = np.broadcast_to(np.asarray(start, dtype=np.int64), rows.shape)
    code = np.zeros(rows.shape, dtype=np.int64)
    for j in range(k):
        code = code * alphabet + matrix[rows, np.minimum(start + j, matrix.shape[1] - 1)]
    return code


def _prefix_mass(matrix: np.ndarray, lengths: np.ndarray, probs: np.ndarray, k: int, alphabet: int) -> np.ndarray:
    """A_k(y): probability that one token is at least ``k`` long and starts with ``y``."""
    keep = lengths >= k
    return np.bincount(_codes(matrix[keep], 0, k, alphabet), weights=probs[keep], minlength=alphabet**k)


def _suffix_mass(matrix: np.ndarray, lengths: np.ndarray, probs: np.ndarray, k: int, alphabet: int) -> np.ndarray:
    """S_k(z): probability that one token is at least ``k`` long and ends with ``z``."""
    keep = lengths >= k
    return np.bincount(_codes(matrix[keep], lengths[keep] - k, k, alphabet), weights=probs[keep], minlength=alphabet**k)


def _exact_mass(matrix: np.ndarray, lengths: np.ndarray, probs: np.ndarray, k: int, alphabet: int) -> np.ndarray:
    """W_k(z): probability that one token equals ``z`` (tokens of length ``k`` only)."""
    keep = lengths == k
    return np.bincount(_codes(matrix[keep], 0, k, alphabet), weights=probs[keep], minlength=alphabet**k)


def stream_prefixes(
    matrix: np.ndarray, lengths: np.ndarray, probs: np.ndarray, order: int, alphabet: int
) -> list[np.ndarray]:
    """Pref_m(y) for m = 0..order: probability that a stream of independent tokens starts with ``y``.

    Pref_m = A_m + sum_j W_j (x) Pref_{m-j}: either the first token covers all of ``y`` or it is a whole
    shorter token followed by a fresh stream.
    """
    prefixes = [np.ones(1)]
    for m in range(1, order + 1):
        total = _prefix_mass(matrix, lengths, probs, m, alphabet)
        for j in range(1, m):
            total = total + np.outer(_exact_mass(matrix, lengths, probs, j, alphabet), prefixes[m - j]).ravel()
        prefixes.append(total)
    return prefixes


def _inside_mass(matrix: np.ndarray, lengths: np.ndarray, probs: np.ndarray, k: int, alphabet: int) -> np.ndarray:
    out = np.zeros(alphabet**k)
    for start in range(matrix.shape[1] - k + 1):
        keep = lengths >= start + k
        if not keep.any():
            break
        out += np.bincount(_codes(matrix[keep], start, k, alphabet), weights=probs[keep], minlength=alphabet**k)
    return out


def _pair_mass(
    matrix: np.ndarray,
    lengths: np.ndarray,
    pairs: np.ndarray,
    pair_probs: np.ndarray,
    r: int,
    k: int,
    alphabet: int,
    prefixes: list[np.ndarray],
) -> np.ndarray:
    """Windows of length ``k`` whose first ``r`` symbols end token 1 of a listed pair and go on into token 2."""
    first, second = pairs[:, 0], pairs[:, 1]
    out = np.zeros(alphabet**k)
    ok = lengths[first] >= r
    first, second, weight = first[ok], second[ok], pair_probs[ok]
    head = _codes(matrix[first], lengths[first] - r, r, alphabet)
    rest = k - r
    long = lengths[second] >= rest
    tail = _codes(matrix[second[long]], 0, rest, alphabet)
    out += np.bincount(head[long] * alphabet**rest + tail, weights=weight[long], minlength=alphabet**k)
    for j in range(1, rest):
        short = lengths[second] == j
        if not short.any():
            continue
        body = _codes(matrix[second[short]], 0, j, alphabet)
        joint = np.bincount(head[short] * alphabet**j + body, weights=weight[short], minlength=alphabet ** (r + j))
        out += np.outer(joint, prefixes[rest - j]).ravel()
    return out


def derive_counts(
    matrix: np.ndarray,
    lengths: np.ndarray,
    probs: np.ndarray,
    pairs: np.ndarray,
    pair_probs: np.ndarray,
    order: int,
    alphabet: int,
    lam: float = 0.7,
) -> np.ndarray:
    """Expected count per token of every n-gram of length ``order`` in a stream of tokens.

    ``probs`` are unigram token probabilities (summing to 1); ``pairs`` (rows of two token indices) with
    ``pair_probs`` (summing to 1) give the joint of adjacent tokens, trusted with weight ``lam`` for the
    symbols that cross one boundary; the rest of the boundary mass comes from independent tokens.
    ``matrix`` holds one token per row (symbol codes, padded past ``lengths`` with anything).
    """
    probs = probs / probs.sum()
    pair_probs = pair_probs / pair_probs.sum() if len(pair_probs) else pair_probs
    prefixes = stream_prefixes(matrix, lengths, probs, order, alphabet)
    counts = _inside_mass(matrix, lengths, probs, order, alphabet)
    for r in range(1, order):
        independent = np.outer(_suffix_mass(matrix, lengths, probs, r, alphabet), prefixes[order - r]).ravel()
        if len(pairs) and lam > 0:
            paired = _pair_mass(matrix, lengths, pairs, pair_probs, r, order, alphabet, prefixes)
            counts += lam * paired + (1 - lam) * independent
        else:
            counts += independent
    return counts


def count_stream(codes: np.ndarray, order: int, alphabet: int) -> np.ndarray:
    """Counts of every n-gram of length ``order`` in one stream of symbol codes."""
    if len(codes) < order:
        return np.zeros(alphabet**order)
    index = np.zeros(len(codes) - order + 1, dtype=np.int64)
    for j in range(order):
        index = index * alphabet + codes[j : len(codes) - order + 1 + j]
    return np.bincount(index, minlength=alphabet**order).astype(np.float64)


def lower_orders(counts: np.ndarray, order: int, alphabet: int) -> list[np.ndarray]:
    """Counts of orders 1..order from the top order, by summing out the last symbol (stationary streams)."""
    tables = [counts]
    for k in range(order - 1, 0, -1):
        tables.append(tables[-1].reshape(alphabet**k, alphabet).sum(axis=1))
    return tables[::-1]


def conditional_logprobs(
    counts: np.ndarray, order: int, alphabet: int, scale: float = 1.0, floor: float = 1e-7
) -> np.ndarray:
    """``log P(c | history)`` for every n-gram code, Witten-Bell interpolated down to letter frequencies.

    ``scale`` turns expected counts per token into notional counts (derived counts sum to about one per
    token), so that the interpolation weight ``C(h) / (C(h) + types(h))`` trusts frequent histories and
    backs off for rare ones. ``floor`` keeps symbols never seen at all finite.
    """
    tables = lower_orders(counts * scale, order, alphabet)
    unigram = tables[0] + floor * tables[0].sum()
    probs = unigram / unigram.sum()
    for k in range(2, order + 1):
        grid = tables[k - 1].reshape(alphabet ** (k - 1), alphabet)
        history = grid.sum(axis=1, keepdims=True)
        types = (grid > 0).sum(axis=1, keepdims=True)
        weight = np.divide(history, history + types, out=np.zeros_like(history), where=history > 0)
        ml = np.divide(grid, history, out=np.zeros_like(grid), where=history > 0)
        lower = probs.reshape(alphabet ** (k - 2), alphabet)
        backoff = np.tile(lower, (alphabet, 1))
        probs = (weight * ml + (1 - weight) * backoff).ravel()
    return np.log(probs).astype(np.float32)
