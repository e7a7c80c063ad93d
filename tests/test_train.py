"""course_lib.train: history, stopping, the NaN guard, carried state, and a real training run."""
import time

import numpy as np
import pytest

from course_lib import corpora
from course_lib.data import SequenceBatches, Vocabulary, anbn_batch, split, stream_batches
from course_lib.metrics import unigram_loss
from course_lib.models import LanguageModel
from course_lib.optim import SGD, Adam
from course_lib.train import History, train


def tiny_task(cell="lstm", seed=0):
    x, y, _ = anbn_batch(range(1, 6))
    model = LanguageModel(4, 8, cell=cell, seed=seed)
    return model, [(x, y, 0)]


def test_history_records_every_step_and_each_evaluation():
    model, batches = tiny_task()
    history = train(model, Adam(model.params, 1e-2), batches, steps=30, eval_every=10, progress=False,
                    val_fn=lambda m: m.loss(*batches[0][:2], ignore_index=0)[0])
    assert history.steps == list(range(30)) and len(history.train_loss) == 30
    assert history.val_steps == [9, 19, 29] and len(history.val_loss) == 3
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.stopped_reason is None


def test_training_continues_an_earlier_history():
    model, batches = tiny_task()
    opt = Adam(model.params, 1e-2)
    history = train(model, opt, batches, steps=5, progress=False)
    train(model, opt, batches, steps=5, progress=False, history=history)
    assert history.steps == list(range(10))


@pytest.mark.filterwarnings("error")
def test_non_finite_loss_stops_before_the_update_and_keeps_the_last_parameters(capsys):
    model, batches = tiny_task(cell="rnn")
    opt = SGD(model.params, lr=3e38)  # float32 logits overflow after a couple of steps
    history = train(model, opt, batches, steps=200, clip=None, progress=False)
    assert history.stopped_reason.startswith("the loss became nan at step 2")
    assert "smaller learning rate" in history.stopped_reason
    assert len(history.steps) == 2
    assert all(np.all(np.isfinite(p)) for p in model.params.values())
    out = capsys.readouterr()
    assert "Training ended early: the loss became nan" in out.out and out.err == ""


def test_stop_request_keeps_model_and_history():
    model, batches = tiny_task()
    before = {k: v.copy() for k, v in model.params.items()}
    history_steps = []
    history = train(model, Adam(model.params, 1e-2), batches, steps=100, progress=False,
                    should_stop=lambda: len(history_steps) >= 7,
                    sample_fn=lambda m: history_steps.append(1) or "", sample_every=1, verbose=False)
    assert history.stopped_reason == "stopped at step 7"
    assert len(history.steps) == 7
    assert any(not np.array_equal(before[k], model.params[k]) for k in before)


def test_keyboard_interrupt_keeps_model_and_history():
    model, batches = tiny_task()

    def batch(step):
        if step == 4:
            raise KeyboardInterrupt
        return batches[0]

    history = train(model, Adam(model.params, 1e-2), batch, steps=50, progress=False, verbose=False)
    assert history.stopped_reason == "interrupted at step 4" and len(history.steps) == 4


def test_carry_state_passes_the_final_state_into_the_next_window():
    seen = []

    class Spy(LanguageModel):
        def loss_and_grads(self, x, y, state=None, ignore_index=None):
            seen.append(state)
            return super().loss_and_grads(x, y, state, ignore_index)

    model = Spy(10, 4, cell="gru")
    windows = stream_batches(np.arange(200) % 10, batch_size=2, seq_len=10)
    train(model, SGD(model.params, 0.1), windows, steps=len(windows) + 1, carry_state=True, progress=False)
    assert seen[0] is None and seen[1] is not None
    assert seen[len(windows)] is None, "a list of windows starts again from a zero state when it wraps"


def test_empty_batches_are_an_error():
    model, _ = tiny_task()
    with pytest.raises(ValueError, match="batches is empty"):
        train(model, SGD(model.params), [], steps=1, progress=False)


def test_lstm_on_names_beats_the_unigram_baseline_within_seconds():
    """The training smoke test: a small LSTM on the census first names."""
    train_names, val_names, _ = split(corpora.load_names(), seed=0)
    vocab = Vocabulary.build(train_names, specials=("<pad>", "<eos>"))
    batches = SequenceBatches(train_names, vocab, batch_size=64, seed=0)
    val_x, val_y, pad = SequenceBatches(val_names, vocab, batch_size=len(val_names)).all()
    model = LanguageModel(len(vocab), 64, cell="lstm", seed=0)
    start = time.perf_counter()
    history = train(model, Adam(model.params, 1e-2), batches, steps=150, eval_every=150, progress=False,
                    val_fn=lambda m: m.loss(val_x, val_y, ignore_index=pad)[0])
    seconds = time.perf_counter() - start
    stream = lambda xs: np.concatenate([s[1:] for s in SequenceBatches(xs, vocab, 1).sequences])
    baseline = unigram_loss(stream(train_names), stream(val_names), len(vocab))
    print(f"names LSTM: val {history.last_val:.3f} nats/char vs unigram {baseline:.3f}, {seconds:.1f} s")
    assert history.last_val < baseline - 0.3
