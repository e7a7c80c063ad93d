"""course_lib.models.LanguageModel: gradients, carried state, saving, bad input."""
import numpy as np
import pytest

from course_lib.gradcheck import check_gradients
from course_lib.models import LanguageModel, count_cell_parameters

V, H, N, T = 7, 5, 3, 4


def batch(seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, V, (N, T)), rng.integers(0, V, (N, T))
    y[0, -1] = 0  # one padded target, exercising ignore_index
    return x, y


def nonzero_state(model):
    shift = lambda s: s + 0.3 * np.random.default_rng(1).standard_normal(s.shape)
    return [(shift(h), shift(c)) for h, c in model.init_state(N)] if model.cell == "lstm" else \
        [shift(h) for h in model.init_state(N)]


@pytest.mark.parametrize("embedding_dim", [None, 4])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_loss_and_grads_match_numerical_gradient(cell, num_layers, embedding_dim):
    model = LanguageModel(V, H, cell=cell, num_layers=num_layers, embedding_dim=embedding_dim,
                          seed=3, dtype=np.float64)
    x, y = batch()
    state = nonzero_state(model)
    _, grads, _ = model.loss_and_grads(x, y, state, ignore_index=0)
    errors = check_gradients(lambda: model.loss(x, y, state, ignore_index=0)[0], model.params, grads)
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-7, f"{worst}: relative error {errors[worst]:.2e}"


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_carried_state_continues_the_sequence(cell):
    """Two windows with the state carried over give the same logits as one long window."""
    model = LanguageModel(V, H, cell=cell, num_layers=2, seed=0, dtype=np.float64)
    x = np.random.default_rng(0).integers(0, V, (N, 2 * T))
    whole, _, _ = model.forward(x)
    first, state, _ = model.forward(x[:, :T])
    second, _, _ = model.forward(x[:, T:], state)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, rtol=1e-12)


def test_step_matches_forward_one_token_at_a_time():
    model = LanguageModel(V, H, cell="lstm", seed=0, dtype=np.float64)
    x = np.random.default_rng(0).integers(0, V, (2, T))
    whole, _, _ = model.forward(x)
    state = None
    for t in range(T):
        logits, state = model.step(x[:, t], state)
        np.testing.assert_allclose(logits, whole[:, t], rtol=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_num_params_matches_the_cell_formula(cell):
    model = LanguageModel(V, H, cell=cell, num_layers=2, embedding_dim=4)
    expected = V * 4 + count_cell_parameters(cell, 4, H) + count_cell_parameters(cell, H, H) + H * V + V
    assert model.num_params() == expected


def test_float32_model_trains_in_float32():
    model = LanguageModel(V, H, cell="gru")
    _, grads, _ = model.loss_and_grads(*batch())
    assert all(g.dtype == np.float32 for g in grads.values())


def test_save_and_load_round_trip(tmp_path):
    model = LanguageModel(V, H, cell="gru", num_layers=2, embedding_dim=3, seed=5)
    path = model.save(tmp_path / "model.npz")
    loaded = LanguageModel.load(path)
    assert loaded.config == model.config
    x, _ = batch()
    np.testing.assert_array_equal(loaded.forward(x)[0], model.forward(x)[0])


def test_save_never_overwrites_without_being_asked(tmp_path):
    path = tmp_path / "model.npz"
    LanguageModel(V, H, seed=1).save(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        LanguageModel(V, H, seed=2).save(path)
    assert path.read_bytes() == before
    LanguageModel(V, H, seed=2).save(path, overwrite=True)
    assert path.read_bytes() != before


def test_load_refuses_a_corrupt_file(tmp_path):
    path = tmp_path / "broken.npz"
    LanguageModel(V, H).save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a readable .npz model file"):
        LanguageModel.load(path)


def test_load_refuses_a_foreign_npz(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, weights=np.ones(3))
    with pytest.raises(ValueError, match="not a course_lib LanguageModel"):
        LanguageModel.load(path)


def test_load_refuses_parameters_that_contradict_the_config(tmp_path):
    path = tmp_path / "model.npz"
    model = LanguageModel(V, H)
    model.params["Wh0"] = np.zeros((H + 1, 4 * H), dtype=np.float32)
    np.savez(path, __format__="course_lib.LanguageModel/1", __config__=__import__("json").dumps(model.config),
             **model.params)
    with pytest.raises(ValueError, match="parameter Wh0 has shape"):
        LanguageModel.load(path)


def test_token_ids_out_of_range_are_refused():
    model = LanguageModel(V, H)
    with pytest.raises(ValueError, match=r"x holds token id 9, outside the vocabulary \[0, 7\)"):
        model.loss_and_grads(np.array([[1, 9]]), np.array([[1, 2]]))


def test_mismatched_targets_are_refused():
    model = LanguageModel(V, H)
    with pytest.raises(ValueError, match="y must have the same shape as x"):
        model.loss_and_grads(np.zeros((2, 3), dtype=int), np.zeros((3, 3), dtype=int))


def test_state_of_the_wrong_batch_size_is_refused():
    model = LanguageModel(V, H, cell="rnn")
    with pytest.raises(ValueError, match=r"state\[0\] must have shape \(N, H\) = \(2, 5\)"):
        model.forward(np.zeros((2, 3), dtype=int), model.init_state(4))


@pytest.mark.parametrize("kwargs, message", [
    ({"cell": "transformer"}, "cell must be one of"),
    ({"hidden_size": 0}, "hidden_size must be a positive integer"),
    ({"dtype": np.int32}, "dtype must be a float type"),
])
def test_bad_configuration_is_refused(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        LanguageModel(V, **{"hidden_size": H, **kwargs})


def test_forget_bias_sets_the_lstm_forget_gate_and_survives_saving(tmp_path):
    model = LanguageModel(V, H, cell="lstm", num_layers=2, forget_bias=8.0)
    for l in range(2):
        np.testing.assert_array_equal(model.params[f"b{l}"][H:2 * H], 8.0)
        np.testing.assert_array_equal(model.params[f"b{l}"][:H], 0.0)
    assert LanguageModel.load(model.save(tmp_path / "m.npz")).config["forget_bias"] == 8.0
    with pytest.raises(ValueError, match="forget_bias must be a finite number"):
        LanguageModel(V, H, forget_bias=float("nan"))
