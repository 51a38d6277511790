import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseis import gp


def toy(n, seed=0, d=4):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, d))
    y = np.sin(2.5 * x[:, 0]) + 0.5 * x[:, 1] ** 2 + 0.05 * rng.normal(size=n)
    return x, y


def test_marginal_likelihood_matches_scikit_learn():
    """Same kernel (Matérn-3/2, ARD, Euclidean) and hyperparameters: same evidence."""
    sk = pytest.importorskip("sklearn.gaussian_process")
    kern = pytest.importorskip("sklearn.gaussian_process.kernels")
    x, y = toy(80)
    amp, scales, noise = 1.3, np.array([0.7, 1.1, 2.0, 3.0]), 0.1
    k = kern.ConstantKernel(amp**2) * kern.Matern(length_scale=scales, nu=1.5) + kern.WhiteKernel(
        noise**2
    )
    ref = sk.GaussianProcessRegressor(k, optimizer=None, normalize_y=False).fit(x, y)
    with jax.enable_x64(True):
        ours = gp.log_marginal_likelihood(
            np.log(amp), np.log(scales), np.log(noise), jnp.asarray(x), jnp.asarray(y)
        )
    assert float(ours) == pytest.approx(ref.log_marginal_likelihood_value_, rel=1e-6)  # jitter


def test_fit_reaches_scikit_learn_optimum_and_predicts_alike():
    sk = pytest.importorskip("sklearn.gaussian_process")
    kern = pytest.importorskip("sklearn.gaussian_process.kernels")
    x, y = toy(150)
    fitted = gp.fit_gps(x, y, seed=0, n_subset=150, n_restarts=3)
    # scikit-learn on the same standardised data
    xs, ys = fitted.x, (y - fitted.y_mean[0]) / fitted.y_std[0]
    k = kern.ConstantKernel(1.0) * kern.Matern(length_scale=np.ones(4), nu=1.5) + kern.WhiteKernel(
        0.01
    )
    ref = sk.GaussianProcessRegressor(k, n_restarts_optimizer=3, random_state=0).fit(xs, ys)
    with jax.enable_x64(True):
        ours = gp.log_marginal_likelihood(
            fitted.log_amp[0], fitted.log_scales[0], fitted.log_noise[0], xs, ys
        )
    assert float(ours) >= ref.log_marginal_likelihood_value_ - 0.5
    xt, _ = toy(100, seed=1)
    pred = np.asarray(gp.predict_gps(fitted, jnp.asarray(xt, jnp.float32)))[:, 0]
    ref_pred = ref.predict((xt - fitted.x_scaler.mean) / fitted.x_scaler.std) * fitted.y_std[0]
    ref_pred += fitted.y_mean[0]
    assert np.sqrt(np.mean((pred - ref_pred) ** 2)) < 0.02
    assert np.sqrt(np.mean((pred - np.sin(2.5 * xt[:, 0]) - 0.5 * xt[:, 1] ** 2) ** 2)) < 0.1


def test_batched_gps_equal_individual_fits():
    x, y = toy(120)
    y2 = np.cos(3 * x[:, 2])
    both = gp.fit_gps(x, np.stack([y, y2], 1), seed=0, n_subset=120, n_restarts=2)
    one = gp.fit_gps(x, y2, seed=0, n_subset=120, n_restarts=2)
    xt = jnp.asarray(toy(20, seed=5)[0], jnp.float32)
    np.testing.assert_allclose(
        np.asarray(gp.predict_gps(both, xt))[:, 1], np.asarray(gp.predict_gps(one, xt))[:, 0],
        rtol=1e-3, atol=1e-3,
    )  # fmt: skip


def test_prediction_is_jittable_and_differentiable():
    x, y = toy(100)
    fitted = gp.fit_gps(x, y, seed=0, n_subset=100, n_restarts=1)
    f = jax.jit(lambda q: gp.predict_gps(fitted, q)[0])
    with jax.enable_x64(True):
        q = jnp.array([0.1, -0.2, 0.3, 0.05], jnp.float64)
        g = np.asarray(jax.grad(f)(q))
        h = 1e-5
        fd = [(f(q + h * e) - f(q - h * e)) / (2 * h) for e in jnp.eye(4, dtype=jnp.float64)]
        np.testing.assert_allclose(g, np.asarray(fd), rtol=1e-4, atol=1e-6)
    assert abs(g[0]) > 0.5  # d/dx0 of sin(2.5 x0) is large here: the check is not vacuous
    # gradient at a training input (zero distance) is finite
    assert np.all(np.isfinite(np.asarray(jax.grad(f)(jnp.asarray(x[0], jnp.float32)))))


def test_closed_form_gradient_equals_automatic_differentiation_through_tinygp():
    """The fit's value and gradient of the log marginal likelihood equal tinygp's value and
    JAX's gradient through it (float64), also with two coincident inputs."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(60, 3))
    x[7] = x[3]  # a repeated input: the distance derivative at r = 0
    y = np.sin(x[:, 0]) + 0.1 * rng.normal(size=60)
    with jax.enable_x64(True):
        xs, ys = jnp.asarray(x), jnp.asarray(y)
        for log_amp, log_scales, log_noise in [
            (0.0, np.zeros(3), np.log(0.1)),
            (0.7, np.array([-0.5, 0.3, 1.2]), np.log(0.01)),
        ]:
            params = (jnp.asarray(log_amp), jnp.asarray(log_scales), jnp.asarray(log_noise))
            value, grads = gp._value_and_gradient(*params, xs, ys)
            ref, ref_grads = jax.value_and_grad(gp.log_marginal_likelihood, argnums=(0, 1, 2))(
                *params, xs, ys
            )
            np.testing.assert_allclose(float(value), float(ref), rtol=1e-10)
            for g, r in zip(grads, ref_grads, strict=True):
                np.testing.assert_allclose(np.asarray(g), np.asarray(r), rtol=1e-7, atol=1e-9)


def test_fit_errors():
    with pytest.raises(ValueError, match="share n"):
        gp.fit_gps(np.zeros((10, 4)), np.zeros(9))
    with pytest.raises(ValueError, match="NaN"):
        gp.fit_gps(np.full((10, 4), np.nan), np.zeros(10))


def test_conditioning_subset_and_single_blas_thread():
    from threadpoolctl import threadpool_info

    from jaxseis.runtime import single_threaded_blas

    rng = np.random.default_rng(3)
    x = rng.uniform(size=(120, 2))
    y = np.sin(3 * x[:, 0]) + x[:, 1]
    opts = {"n_subset": 60, "n_iter": 40, "n_restarts": 1, "seed": 1}
    sub = gp.fit_gps(x, y, n_condition=80, **opts)
    full = gp.fit_gps(x, y, n_condition=None, **opts)
    assert sub.x.shape == (80, 2) and full.x.shape == (120, 2)
    np.testing.assert_array_equal(sub.log_scales, full.log_scales)  # same hyperparameters
    with jax.enable_x64(True):
        pred = np.asarray(gp.predict_gps(sub, jnp.asarray(x)))[:, 0]
    assert np.sqrt(np.mean((pred - y) ** 2)) < 0.05 * y.std()
    with single_threaded_blas():
        assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")


def test_prediction_kernel_equals_tinygp_and_has_finite_gradient_at_training_points():
    rng = np.random.default_rng(4)
    with jax.enable_x64(True):
        a, b = jnp.asarray(rng.normal(size=(7, 4))), jnp.asarray(rng.normal(size=(9, 4)))
        la, ls = jnp.asarray(0.3), jnp.asarray(rng.normal(size=4) * 0.3)
        np.testing.assert_allclose(
            gp._matern32_cross(a, b, la, ls), gp.matern32_kernel(la, ls)(a, b), rtol=1e-12
        )
        g = jax.grad(lambda p: gp._matern32_cross(p[None], b, la, ls).sum())(b[2])
        assert np.all(np.isfinite(np.asarray(g)))


def test_batched_means_equal_the_kernel_vector_product_and_their_gradients_agree():
    """predict_gps's fused distances equal k(z, X) @ alpha per GP, value and gradient,
    also at a training point."""
    rng = np.random.default_rng(6)
    n, m, d = 300, 7, 4
    with jax.enable_x64(True):
        x = jnp.asarray(rng.normal(size=(n, d)))
        alpha = jnp.asarray(rng.normal(size=(m, n)) * 1e3)
        la, ls = jnp.asarray(rng.normal(size=m) * 0.2), jnp.asarray(rng.normal(size=(m, d)) * 0.5)
        z = jnp.concatenate([jnp.asarray(rng.normal(size=(5, d))), x[:1]])

        def ref_all(z, x, alpha, la, ls):
            return jnp.stack(
                [gp._matern32_cross(z, x, la[j], ls[j]) @ alpha[j] for j in range(m)], axis=-1
            )

        def reference(z):
            return ref_all(z, x, alpha, la, ls)

        fast = gp._posterior_means(z, x, alpha, la, ls)
        ref = reference(z)
        np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-10 * float(jnp.abs(ref).max()))
        g_fast = jax.grad(lambda z: gp._posterior_means(z, x, alpha, la, ls).sum())(z)
        g_ref = jax.grad(lambda z: reference(z).sum())(z)
        assert np.all(np.isfinite(np.asarray(g_fast)))
        np.testing.assert_allclose(g_fast, g_ref, rtol=0, atol=1e-9 * float(jnp.abs(g_ref).max()))
        # the written-out derivatives in every argument (inputs, training inputs, weights,
        # amplitudes, length scales), forward and reverse, against automatic differentiation
        # of the reference
        args = (z, x, alpha, la, ls)
        tangents = tuple(jnp.asarray(rng.normal(size=a.shape)) for a in args)
        _, t_fast = jax.jvp(gp._posterior_means, args, tangents)
        _, t_ref = jax.jvp(ref_all, args, tangents)
        np.testing.assert_allclose(t_fast, t_ref, rtol=0, atol=1e-9 * float(jnp.abs(t_ref).max()))
        weights = jnp.asarray(rng.normal(size=ref.shape))
        v_fast = jax.grad(
            lambda *a: jnp.sum(weights * gp._posterior_means(*a)), argnums=(0, 1, 2, 3, 4)
        )(*args)
        v_ref = jax.grad(lambda *a: jnp.sum(weights * ref_all(*a)), argnums=(0, 1, 2, 3, 4))(*args)
        for a, b in zip(v_fast, v_ref, strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * float(jnp.abs(b).max()))


def test_gp_count_not_a_multiple_of_the_batch_size():
    """5 GPs in batches of 4 once deadlocked (lax.map's remainder ran concurrently)."""
    rng = np.random.default_rng(5)
    x = rng.uniform(size=(150, 2))
    y = np.stack([np.sin((k + 1) * x[:, 0]) + x[:, 1] for k in range(5)], axis=1)
    gps = gp.fit_gps(x, y, n_subset=60, n_iter=20, n_restarts=1, batch_size=4)
    assert gps.alpha.shape == (5, 150)
    one = gp.fit_gps(x, y[:, 4], n_subset=60, n_iter=20, n_restarts=1)
    np.testing.assert_allclose(gps.log_scales[4], one.log_scales[0], rtol=1e-6)
