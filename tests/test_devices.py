"""The CPU split into JAX devices (conftest splits it into two before any test runs)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import TEST_CPU_DEVICES

from jaxseis.runtime import divisor_at_most, over_devices, usable_cores, use_cpu_cores


def test_use_cpu_cores_after_start_keeps_the_count_or_says_why():
    assert len(jax.devices("cpu")) == TEST_CPU_DEVICES
    assert use_cpu_cores(TEST_CPU_DEVICES) == TEST_CPU_DEVICES  # already so: fine
    with pytest.raises(RuntimeError, match="already run a computation with 2"):
        use_cpu_cores(TEST_CPU_DEVICES + 1)
    assert usable_cores() >= 1


@pytest.mark.parametrize("n", [0, -1, 1.5, True, "2"])
def test_use_cpu_cores_rejects_bad_counts(n):
    with pytest.raises(ValueError, match="positive integer"):
        use_cpu_cores(n)


@pytest.mark.parametrize(("count", "devices", "expected"), [(4, 2, 2), (3, 2, 1), (1, 2, 1)])
def test_divisor_at_most(count, devices, expected):
    assert divisor_at_most(count, devices) == expected


def test_over_devices_keeps_the_batch_order():
    """Each element runs its own data-dependent loop (like a NUTS chain); split over two
    devices the results come back in input order and equal the one-device ``vmap``."""

    def collatz_steps(x):  # a while loop whose trip count depends on the element
        def body(c):
            v, n = c
            return jnp.where(v % 2 == 0, v // 2, 3 * v + 1), n + 1

        return jax.lax.while_loop(lambda c: c[0] != 1, body, (x, 0))[1]

    x = jnp.arange(1, 9, dtype=jnp.int32)
    one = jax.jit(jax.vmap(collatz_steps))(x)
    two = jax.jit(over_devices(jax.vmap(collatz_steps), 2))(x)
    np.testing.assert_array_equal(two, one)
    np.testing.assert_array_equal(one, [0, 1, 7, 2, 5, 8, 16, 3])
    assert len(two.sharding.device_set) == 2
