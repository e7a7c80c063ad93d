"""course_lib.optim: each optimiser's update rule, and global-norm clipping."""
import numpy as np
import pytest

from course_lib.optim import SGD, AdaGrad, Adam, AdamW, clip_gradients, global_norm


def quadratic():
    """f(p) = 0.5 ||p - target||^2, minimised at target."""
    target = np.array([1.0, -2.0, 3.0])
    params = {"p": np.zeros(3)}
    return params, lambda: {"p": params["p"] - target}, target


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.1), lambda p: SGD(p, lr=0.05, momentum=0.9), lambda p: AdaGrad(p, lr=0.5),
    lambda p: Adam(p, lr=0.1), lambda p: AdamW(p, lr=0.1, weight_decay=1e-4),
])
def test_optimisers_minimise_a_quadratic(make):
    params, grad, target = quadratic()
    opt = make(params)
    for _ in range(500):
        opt.step(grad())
    np.testing.assert_allclose(params["p"], target, atol=1e-2)


def test_sgd_with_momentum_follows_its_update_rule():
    params = {"p": np.array([1.0])}
    opt = SGD(params, lr=0.1, momentum=0.5)
    opt.step({"p": np.array([2.0])})  # v = 2, p = 1 - 0.2
    opt.step({"p": np.array([2.0])})  # v = 0.5 * 2 + 2 = 3, p = 0.8 - 0.3
    assert params["p"][0] == pytest.approx(0.5)


def test_adam_first_step_moves_each_entry_by_lr():
    params = {"p": np.array([0.0, 0.0])}
    Adam(params, lr=0.01).step({"p": np.array([0.1, -50.0])})
    np.testing.assert_allclose(params["p"], [-0.01, 0.01], rtol=1e-4)


def test_optimiser_updates_in_place_and_keeps_float32():
    params = {"W": np.ones((2, 2), dtype=np.float32)}
    original = params["W"]
    Adam(params, lr=0.1).step({"W": np.ones((2, 2), dtype=np.float32)})
    assert params["W"] is original and original.dtype == np.float32 and original[0, 0] < 1


def test_clip_gradients_scales_all_arrays_together():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0], [4.0]])}
    clipped, norm = clip_gradients(grads, max_norm=1.0)
    assert norm == pytest.approx(5.0)
    assert global_norm(clipped) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(clipped["a"] / grads["a"][0], [0.2, 0.0], rtol=1e-5)
    assert grads["a"][0] == 3.0, "the input must not be changed"


def test_clip_gradients_leaves_small_gradients_alone():
    grads = {"a": np.array([0.3, 0.4])}
    clipped, norm = clip_gradients(grads, max_norm=1.0)
    assert norm == pytest.approx(0.5)
    np.testing.assert_array_equal(clipped["a"], grads["a"])


def test_gradients_that_do_not_match_the_parameters_are_refused():
    params = {"W": np.zeros((2, 2))}
    with pytest.raises(ValueError, match=r"missing \['W'\], unexpected \['V'\]"):
        SGD(params).step({"V": np.zeros((2, 2))})
    with pytest.raises(ValueError, match=r"grads\['W'\] has shape \(3,\), the parameter has \(2, 2\)"):
        SGD(params).step({"W": np.zeros(3)})


@pytest.mark.parametrize("bad", [0, -1e-3, float("nan")])
def test_learning_rate_must_be_positive(bad):
    with pytest.raises(ValueError, match="lr must be a positive number"):
        Adam({"W": np.zeros(2)}, lr=bad)
