"""Progress bars: shown when asked or on a terminal, silent otherwise, and never a change in
the results (the long steps run in pieces of the same compiled programs)."""

import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseis import inference as inf
from jaxseis.inference.nuts import run_chains
from jaxseis.inference.prior import to_unconstrained, validate_prior
from jaxseis.inference.programs import piece_length, run_nuts
from jaxseis.likelihood.base import as_likelihood
from jaxseis.progress import Progress, show_progress

STAGE = inf.GlobalStage(num_draws=300, chunk_size=64, num_polish=2, polish_steps=10,
                        newton_steps=2)  # fmt: skip
TINY = inf.NutsOptions(num_chains=2, num_warmup=30, num_draws=21, max_num_doublings=4,
                       global_stage=STAGE)  # fmt: skip
MEAN = np.array([0.4, 0.55, 1.2])


def log_likelihood(source):
    """A Gaussian of 20 m around MEAN (km)."""
    d = (source - jnp.asarray(MEAN, source.dtype)) / 0.02
    return -0.5 * jnp.sum(d * d)


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_show_progress_follows_the_terminal(monkeypatch):
    assert show_progress(True) and not show_progress(False)
    monkeypatch.setattr("sys.stderr", FakeTerminal())
    assert show_progress(None)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not show_progress(None)
    with Progress(10, desc="hidden", progress=None) as bar:  # not a terminal: nothing
        bar.update(10)
        assert not bar.shown


@pytest.mark.parametrize("total", [1, 7, 19, 20, 21, 97, 650, 900, 1009, 10_000])
def test_pieces_cover_the_steps_with_little_padding(total):
    size = piece_length(total)
    pieces = -(-total // size)
    assert pieces * size >= total
    assert pieces * size - total < pieces  # less than one step of padding per piece
    assert pieces == total if total <= 20 else 10 <= pieces <= 40


def test_progress_shows_updates_and_does_not_change_the_draws(capsys, monkeypatch):
    """Forced on (stderr is not a terminal here), the bars of the global stage and NUTS
    report their pieces on stderr; off, stderr stays empty; by default they show on a
    terminal; the draws are identical."""

    def run(progress):
        return inf.locate(log_likelihood, inf.paper_prior(), key=jax.random.key(2),
                          options=TINY, progress=progress, diagnostics=False)  # fmt: skip

    quiet = run(False)
    assert capsys.readouterr().err == ""
    shown = run(True)
    err = capsys.readouterr().err
    assert "global stage" in err and "cand/s" in err
    assert "NUTS warm-up" in err and "NUTS sampling" in err
    assert "0 divergent" in err and "/51 [" in err  # the sampling pieces
    terminal = FakeTerminal()
    monkeypatch.setattr("sys.stderr", terminal)
    auto = run(None)
    assert "NUTS sampling" in terminal.getvalue()
    for other in (shown, auto):
        for group in ("posterior", "sample_stats"):
            for name, values in getattr(quiet, group).data_vars.items():
                np.testing.assert_array_equal(
                    getattr(other, group)[name].values, values.values, err_msg=name
                )


def test_pieces_give_the_draws_of_one_program():
    """NUTS in pieces (locate's path) equals NUTS as one scan (the catalogue's path)."""
    lik = as_likelihood(log_likelihood)
    space = validate_prior(inf.paper_prior(), lik)
    space = space._replace(lower=jnp.asarray(space.lower), upper=jnp.asarray(space.upper))
    options = TINY._replace(global_stage=None)
    c, d = options.num_chains, space.dim
    center = jnp.broadcast_to(to_unconstrained(space, jnp.asarray(MEAN, jnp.float32)), (c, d))
    chol = jnp.broadcast_to(0.05 * jnp.eye(d), (c, d, d))
    w0 = 0.5 * jax.random.normal(jax.random.key(0), (c, d))
    key = jax.random.key(9)
    pieces = run_nuts(lik.fn, None, None, space, key, w0, center, chol, options=options, split=1)

    @jax.jit
    def one_program(lower, upper, key, w0, center, chol):
        s = space._replace(lower=lower, upper=upper)
        return run_chains(lik.fn, None, None, s, key, w0, center, chol, options=options, split=1)

    one = one_program(space.lower, space.upper, key, w0, center, chol)
    for name in ("theta", "loglik", "diverging", "n_steps", "step_size"):
        np.testing.assert_array_equal(pieces[name], np.asarray(one[name]), err_msg=name)
