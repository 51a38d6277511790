"""The Observation: made from the bundled data, matched to receivers, validated."""

import jax
import numpy as np
import pytest

import jaxseis as js
from jaxseis.noise import WhiteNoise
from jaxseis.observation import make_observation, observe


@pytest.fixture(scope="module")
def event():
    return js.load_paper_event()


def test_observe_the_paper_event(event):
    receivers = js.location_receivers_km()
    obs = observe(event, receivers)
    rows = [event.receiver_index(r) for r in receivers]
    np.testing.assert_array_equal(obs.traces, event.traces[rows, 0])
    np.testing.assert_allclose(obs.truth, [0.375, 0.3, 1.57, 0.0, 0.0])
    assert obs.stations == tuple(f"R{r + 1:02d}" for r in rows)
    assert obs.noise.sigma == pytest.approx(np.full(4, 0.056 * np.abs(obs.traces).max()))
    noisy = observe(event, receivers, noise_key=jax.random.key(0))
    again = observe(event, receivers, noise_key=jax.random.key(0))
    np.testing.assert_array_equal(noisy.traces, again.traces)
    resid = noisy.traces - obs.traces
    assert abs(resid.std() / obs.noise.sigma[0] - 1) < 0.05


def test_observe_shifts_and_scales(event):
    receivers = js.location_receivers_km()
    base = observe(event, receivers)
    shifted = observe(event, receivers, t0=0.02, log_amplitude=np.log(2.0))
    # 0.02 s is 5 samples: an integer delay, exact to the interpolation's accuracy
    np.testing.assert_allclose(shifted.traces[:, 5:], 2 * base.traces[:, :-5], atol=1e-4 * 2e-2)
    assert shifted.truth[3:] == pytest.approx([0.02, np.log(2.0)])
    assert shifted.noise.sigma[0] == pytest.approx(2 * base.noise.sigma[0])


def test_match_reorders_and_names_missing_receivers(event):
    receivers = js.location_receivers_km()
    obs = observe(event, receivers)
    back = obs.match(receivers[::-1])
    np.testing.assert_array_equal(back.traces, obs.traces[::-1])
    assert back.stations == obs.stations[::-1]
    with pytest.raises(ValueError, match=r"receiver at \[0.9, 0.9, 2.43\] km that no observed"):
        obs.match(np.array([[0.9, 0.9, 2.43]]))
    with pytest.raises(ValueError, match="no trace at the receiver"):
        observe(event, np.array([[0.01, 0.01, 2.43]]))


def test_observation_is_a_pytree(event):
    obs = observe(event, js.location_receivers_km())
    leaves, tree = jax.tree.flatten(obs)
    again = jax.tree.unflatten(tree, leaves)
    assert again.stations == obs.stations and again.dt == obs.dt
    doubled = jax.tree.map(lambda a: 2 * a, obs)
    np.testing.assert_array_equal(doubled.traces, 2 * obs.traces)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"traces": np.ones(5)}, r"\[n_receivers, n_samples\]"),
        ({"traces": np.full((4, 501), np.nan)}, "NaN"),
        ({"traces": np.zeros((4, 501))}, "all zero"),
        ({"dt": -1.0}, "positive"),
        ({"receivers_km": np.zeros((3, 3))}, r"\[4, 3\]"),
        ({"stations": ("A", "A", "B", "C")}, "unique"),
        ({"noise": WhiteNoise(np.array([1.0, -1.0, 1.0, 1.0]))}, "> 0"),
        ({"truth": [1.0, 2.0]}, "truth must be 5"),
    ],
)
def test_bad_observations(event, change, match):
    obs = observe(event, js.location_receivers_km())
    with pytest.raises(ValueError, match=match):
        obs.replace(**change)


def test_make_observation_defaults():
    receivers = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    obs = make_observation(np.ones((2, 10)), 0.004, receivers, noise=WhiteNoise(1.0))
    assert obs.stations == ("R01", "R02") and obs.noise.sigma.tolist() == [1.0, 1.0]
    assert obs.truth is None and obs.reference_time is None
