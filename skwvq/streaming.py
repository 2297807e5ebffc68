"""The data side of a stream, for ``partial_fit`` and the layer alike: running moments, a keyed reservoir of rows, and the alignment that follows them.

A stream keeps its arrays in a *state*, a mapping from names to arrays, so
that the estimator holds them in a dict and the layer in its buffers
(``state_dict``, DDP, devices), while one implementation updates both:

- ``Reservoir``: the rows with the smallest keys among those offered, at most
  ``capacity``. Uniform random keys keep a uniform sample of everything seen
  (``partial_fit``); decreasing keys keep the most recent rows (the layer).
- ``MomentStream``: running moments (forgetting a fraction of the past at
  each batch, or nothing) and the Gaussian alignment to them, with a support
  reservoir where unused codes are re-seeded.
- ``SampleStream``: a reservoir of rows and the sample alignment (sliced,
  exact) to it, rebuilt each time the sample has been renewed.
"""

from __future__ import annotations

import copy

import numpy as np

from ._moments import Moments
from .backends import backend_of, concatenate_rows, to_host

KEEP = ("uniform", "recent")


class Reservoir:
    """At most ``capacity`` rows of a stream: those with the smallest keys.

    With ``keep="uniform"`` every row gets a uniform random key, so after any
    number of batches the reservoir is a uniform draw of the rows seen (their
    weights kept as OT masses, as ``ot_sample`` does). With ``keep="recent"``
    the keys decrease with arrival, so the reservoir holds the most recent
    rows. Rows of zero weight are never kept. Sparse rows are kept as CSR.

    Parameters
    ----------
    capacity : int
    keep : {"uniform", "recent"}, default="uniform"
    name : str, default="sample"
        Prefix of its entries in the state: ``name``, ``name_weights``,
        ``name_keys`` and ``name_seen``.

    Examples
    --------
    >>> import numpy as np
    >>> reservoir = Reservoir(capacity=5)
    >>> state = reservoir.start(1)
    >>> rng = np.random.RandomState(0)
    >>> for start in range(0, 100, 10):
    ...     batch = np.arange(start, start + 10.0)[:, None]
    ...     reservoir.add(state, batch, np.ones(10), rng)
    >>> sample, masses = reservoir.sample(state)
    >>> sample.shape, float(masses.sum()), reservoir.n_seen(state)
    ((5, 1), 1.0, 100)
    """

    def __init__(self, capacity: int, *, keep: str = "uniform", name: str = "sample"):
        if keep not in KEEP:
            raise ValueError(f"keep must be one of {KEEP}, got {keep!r}.")
        self.capacity, self.keep, self.name = capacity, keep, name
        self.keys = (name, f"{name}_weights", f"{name}_keys", f"{name}_seen")

    def start(self, n_features: int, *, like=None, dtype=None, fixed=False) -> dict:
        """An empty reservoir's state, on the backend of ``like``.

        ``fixed`` allocates all ``capacity`` rows at once (empty ones keyed
        ``inf``), so that the arrays keep one shape (a layer's buffers);
        otherwise they grow with the stream up to ``capacity``.
        """
        nx = backend_of(like)
        n_rows = self.capacity if fixed else 0
        rows = nx.zeros((n_rows, n_features), type_as=like)
        if dtype is not None:
            rows = nx.asarray(rows, dtype=dtype)
        weights = nx.float64(nx.zeros(n_rows, type_as=like))
        keys = weights + np.inf
        seen = nx.asarray(nx.zeros((), type_as=like), dtype=np.int64)
        return dict(zip(self.keys, (rows, weights, keys, seen)))

    def n_seen(self, state) -> int:
        """Rows offered so far."""
        return int(state[self.keys[3]])

    def add(self, state, rows, weights=None, rng=None) -> None:
        """Offer a batch (rows of zero weight are not kept); updates ``state``.

        Parameters
        ----------
        state : mutable mapping
        rows : array, CSR matrix or tensor of shape (n_rows, n_features)
            On the reservoir's backend and in its dtype.
        weights : array of shape (n_rows,), default=None
            Ones if None.
        rng : numpy.random.RandomState
            Draws the keys of a uniform reservoir (one per row offered).
        """
        name, weight_name, key_name, seen_name = self.keys
        keys = state[key_name]
        nx = backend_of(keys)
        n_seen, n_rows = self.n_seen(state), rows.shape[0]
        if self.keep == "uniform":
            new_keys = rng.random_sample(n_rows)
        else:
            new_keys = -(n_seen + np.arange(n_rows, dtype=np.float64))
        weights = np.ones(n_rows) if weights is None else to_host(weights)
        positive = np.asarray(weights, dtype=np.float64) > 0
        if not positive.all():
            rows = rows[np.flatnonzero(positive)]
        offered = nx.float64(
            nx.asarray(np.asarray(weights, dtype=np.float64)[positive])
        )
        keys = nx.concatenate([keys, nx.float64(new_keys[positive])])
        kept = nx.argsort(keys)[: self.capacity]
        state[name] = concatenate_rows(state[name], rows)[kept]
        state[weight_name] = nx.concatenate([state[weight_name], offered])[kept]
        state[key_name] = keys[kept]
        state[seen_name] = state[seen_name] + n_rows

    def sample(self, state):
        """The rows held and their masses (summing to one), on the reservoir's backend."""
        name, weight_name, key_name, _ = self.keys
        held = backend_of(state[key_name]).isfinite(state[key_name])
        if bool(held.all()):
            rows, weights = state[name], state[weight_name]
        else:
            rows, weights = state[name][held], state[weight_name][held]
        return rows, weights / weights.sum()


class SampleStream:
    """A reservoir of a stream's rows, and the sample alignment (sliced, exact) to it.

    The alignment is rebuilt each time the sample has been renewed: for a
    uniform reservoir when the rows seen have doubled (so its data side, the
    sorted projections and sample masses, is prepared ``O(log N)`` times over
    ``N`` rows), for a reservoir of recent rows when all of them are new.

    Parameters
    ----------
    method : type of skwvq.alignment.SampleAlignment
    reservoir : Reservoir
    n_codes : int
    target : str
    n_projections : int or None
    """

    needs_moments = False

    def __init__(self, method, reservoir, *, n_codes, target, n_projections):
        self.method, self.reservoir = method, reservoir
        self.n_codes, self.target, self.n_projections = n_codes, target, n_projections
        self._alignment, self._built_at = None, 0

    def start(self, n_features: int, **kwargs) -> dict:
        """An empty stream's state (see ``Reservoir.start``)."""
        return self.reservoir.start(n_features, **kwargs)

    def add(
        self, state, rows=None, weights=None, *, moments=None, rng=None, retain=1.0
    ):
        """Offer a batch's rows to the reservoir."""
        self.reservoir.add(state, rows, weights, rng)

    def _renewed(self, n_seen: int) -> bool:
        if self.reservoir.keep == "uniform":
            return n_seen >= 2 * self._built_at
        return n_seen >= self._built_at + self.reservoir.capacity

    def alignment(self, state, *, rng=None, nx=None):
        """The alignment to the reservoir's sample, rebuilt once the sample is renewed."""
        n_seen = self.reservoir.n_seen(state)
        if self._alignment is None or self._renewed(n_seen):
            sample, masses = self.reservoir.sample(state)
            self._alignment = self.method.from_sample(
                to_host(sample),
                to_host(masses),
                n_codes=self.n_codes,
                target=self.target,
                n_projections=self.n_projections,
                rng=rng,
                nx=nx,
            )
            self._built_at = n_seen
        return self._alignment

    def copy(self) -> SampleStream:
        """A copy that one batch can advance while this one stays as it was (alignments are replaced, never changed)."""
        return copy.copy(self)


class MomentStream:
    """A stream's running moments, the Gaussian alignment to them, and optionally a support reservoir.

    Parameters
    ----------
    method : type of skwvq.alignment.GaussianAlignment
    target : str
    support : Reservoir or None, default=None
        Rows where unused codes are re-seeded; None for a stream whose user
        re-seeds its own way (the layer).
    """

    needs_moments = True
    keys = ("feature_weight", "feature_mean", "feature_scatter")

    def __init__(self, method, *, target, support=None):
        self.method, self.target, self.reservoir = method, target, support

    def start(self, n_features: int, *, like=None, **kwargs) -> dict:
        """An empty stream's state: no moments yet (and an empty support reservoir)."""
        empty = Moments.empty(n_features, like=like)
        weight = backend_of(empty.mean).full((), 0.0, type_as=empty.mean)
        state = dict(zip(self.keys, (weight, empty.mean, empty.scatter)))
        if self.reservoir is not None:
            state.update(self.reservoir.start(n_features, like=like, **kwargs))
        return state

    def moments(self, state) -> Moments:
        """The running moments held in ``state``."""
        weight, mean, scatter = (state[key] for key in self.keys)
        return Moments(float(weight), mean, scatter)

    def add(self, state, rows=None, weights=None, *, moments, rng=None, retain=1.0):
        """Merge a batch's moments into the running ones, of which ``retain`` is kept."""
        merged = self.moments(state).scaled(retain).merge(moments)
        weight = state[self.keys[0]]
        state[self.keys[0]] = backend_of(weight).full((), merged.weight, type_as=weight)
        state[self.keys[1]], state[self.keys[2]] = merged.mean, merged.scatter
        if self.reservoir is not None:
            self.reservoir.add(state, rows, weights, rng)

    def alignment(self, state, *, rng=None, nx=None):
        """The Gaussian alignment to the running moments (with the support reservoir's rows)."""
        moments = self.moments(state)
        alignment = self.method.from_moments(
            moments.mean, moments.cov, target=self.target
        )
        if self.reservoir is not None:
            alignment.support = tuple(map(to_host, self.reservoir.sample(state)))
        return alignment

    def copy(self) -> MomentStream:
        return copy.copy(self)
