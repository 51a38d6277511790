"""Flax NNX building blocks shared by the emulator families, and their pure-array form.

Networks are trained as NNX modules; once trained they are kept as a *pure dict* of arrays
(``nnx.to_pure_dict``) plus the architecture in the emulator's JSON config, and evaluated with
``nnx.merge`` inside ``jax.jit`` (never ``nnx.jit`` in a sampler loop).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from functools import lru_cache

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = [
    "MLP",
    "apply",
    "apply_hidden",
    "build",
    "graphdef_of",
    "init_state",
    "last_layer",
    "parameter_shapes",
    "to_arrays",
]

LEAKY_SLOPE = 0.2  # the paper's LeakyReLU slope (TensorFlow's default; JAX's is 0.01)


class MLP(nnx.Module):
    """Fully connected network: LeakyReLU between layers, linear output.

    Glorot-uniform kernels and zero biases, as in the paper's code.

    Args:
        sizes: layer widths from input to output, e.g. ``(4, 64, 128, 256, 501)``.
        rngs: ``nnx.Rngs`` for the initialisation.
        negative_slope: LeakyReLU slope (0.2 by default).
    """

    def __init__(
        self, sizes: Sequence[int], *, rngs: nnx.Rngs, negative_slope: float = LEAKY_SLOPE
    ):
        self.layers = nnx.List(
            [
                nnx.Linear(
                    a, b, kernel_init=nnx.initializers.glorot_uniform(),
                    bias_init=nnx.initializers.zeros_init(), rngs=rngs,
                )
                for a, b in itertools.pairwise(sizes)
            ]
        )  # fmt: skip
        self.negative_slope = negative_slope

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = jax.nn.leaky_relu(layer(x), self.negative_slope)
        return self.layers[-1](x)


def build(spec: dict, seed: int = 0) -> nnx.Module:
    """Instantiate a network from its JSON spec ``{"type": "mlp", "sizes": [...], ...}``."""
    if spec.get("type") != "mlp":
        raise ValueError(f"unknown network type {spec.get('type')!r}")
    return MLP(
        tuple(spec["sizes"]), rngs=nnx.Rngs(seed), negative_slope=spec.get("slope", LEAKY_SLOPE)
    )


def _spec_key(spec: dict) -> tuple:
    return (spec["type"], tuple(spec["sizes"]), float(spec.get("slope", LEAKY_SLOPE)))


@lru_cache(maxsize=64)
def _graphdef(key: tuple):
    spec = {"type": key[0], "sizes": list(key[1]), "slope": key[2]}
    abstract = nnx.eval_shape(lambda: build(spec))
    graphdef, state = nnx.split(abstract)
    return graphdef, state


def graphdef_of(spec: dict):
    """The (cached) NNX graph definition of a network spec."""
    return _graphdef(_spec_key(spec))[0]


def parameter_shapes(spec: dict) -> dict:
    """Nested dict (the layout of the pure dict of parameters) of the shapes of a network
    spec's parameters, e.g. ``{"layers": {0: {"kernel": (4, 64), "bias": (64,)}, ...}}``.

    Raises:
        ValueError: for a spec that is not a valid network description.
    """
    if not isinstance(spec, dict) or spec.get("type") != "mlp":
        raise ValueError(f"invalid network spec {spec!r:.120}: the type must be 'mlp'")
    try:
        key = _spec_key(spec)
        if not all(isinstance(n, int) and n > 0 for n in key[1]) or len(key[1]) < 2:
            raise ValueError(f"layer sizes must be >= 2 positive integers, got {list(key[1])}")
        abstract = _graphdef(key)[1]
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"invalid network spec {spec!r:.120}: {err}") from None
    leaves = nnx.to_pure_dict(abstract)
    return jax.tree.map(lambda a: tuple(int(n) for n in a.shape), leaves)


def init_state(spec: dict, seed: int) -> dict:
    """Freshly initialised parameters of a network spec, as a pure dict of arrays."""
    return to_arrays(nnx.split(build(spec, seed))[1])


def to_arrays(state) -> dict:
    """Pure nested dict of arrays from an ``nnx.State``."""
    return nnx.to_pure_dict(state)


def apply(spec: dict, params: dict) -> Callable:
    """Pure function ``x -> network(x)`` for a pure-dict ``params`` (jit/vmap/grad safe)."""
    graphdef, abstract = _graphdef(_spec_key(spec))

    def f(x):
        state = jax.tree.map(lambda a: a, abstract)  # a fresh State to fill
        nnx.replace_by_pure_dict(state, params)
        return nnx.merge(graphdef, state)(x)

    return f


def apply_hidden(spec: dict, params: dict) -> Callable:
    """Pure function ``x -> h``: the activations that feed an MLP's last (linear) layer, so
    that ``apply(spec, params)(x) == h @ kernel + bias`` with ``(kernel, bias)`` from
    :func:`last_layer`."""
    sizes = list(spec["sizes"])
    if len(sizes) < 3:
        raise ValueError(f"an MLP needs a hidden layer to split off its last one; got {sizes}")
    layers = params["layers"]
    last = max(layers)
    body = apply(spec | {"sizes": sizes[:-1]}, {"layers": {i: layers[i] for i in range(last)}})
    slope = float(spec.get("slope", LEAKY_SLOPE))
    return lambda x: jax.nn.leaky_relu(body(x), slope)


def last_layer(params: dict) -> tuple:
    """``(kernel [h, n], bias [n])`` of an MLP's last layer (pure-dict parameters)."""
    layer = params["layers"][max(params["layers"])]
    return layer["kernel"], layer["bias"]


def count_parameters(params: dict) -> int:
    """Number of scalar parameters in a pure dict."""
    return int(sum(jnp.size(a) for a in jax.tree.leaves(params)))
