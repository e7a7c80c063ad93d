"""The training loop: one function, shared by every notebook and the widgets panel.

    history = train(model, Adam(model.params, 3e-3), batches, steps=500, val_fn=val_loss)

It records the loss at every step, evaluates every `eval_every` steps, shows a progress
bar, prints samples at checkpoints, refuses to apply a non-finite update, and stops
cleanly on Ctrl-C (or the panel's Stop button), keeping the model and history so far.
"""
import math
from dataclasses import dataclass, field

import numpy as np

from . import checks
from .optim import clip_gradients
from .progress import optional_bar


@dataclass
class History:
    """What happened during training. Losses are mean nats per token."""

    steps: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    val_steps: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    samples: list = field(default_factory=list)
    stopped_reason: str | None = None

    @property
    def last_val(self):
        return self.val_loss[-1] if self.val_loss else None

    def smoothed_train_loss(self, window=50):
        """Running mean of the training loss over the last `window` steps."""
        losses = np.asarray(self.train_loss, dtype=np.float64)
        if losses.size == 0:
            return losses
        kernel = np.ones(min(window, losses.size))
        return np.convolve(losses, kernel, mode="full")[: losses.size] / np.minimum(
            np.arange(1, losses.size + 1), kernel.size)


def _batch_source(batches):
    """A function step -> (x, y, ignore_index) and the period after which a list repeats."""
    if callable(batches):
        return lambda step: _unpack(batches(step)), None
    batches = list(batches)
    if not batches:
        raise ValueError("batches is empty: give a list of (x, y) windows or a function of the step")
    return lambda step: _unpack(batches[step % len(batches)]), len(batches)


def _unpack(batch):
    if not isinstance(batch, tuple) or len(batch) not in (2, 3):
        raise ValueError("each batch must be a tuple (x, y) or (x, y, ignore_index)")
    return batch if len(batch) == 3 else (*batch, None)


def train(model, optimizer, batches, steps, clip=5.0, val_fn=None, eval_every=100, sample_fn=None,
          sample_every=None, carry_state=False, progress=True, callback=None, should_stop=None,
          verbose=True, history=None):
    """Train `model` for `steps` optimiser steps and return a History.

    batches: a list of (x, y) or (x, y, ignore_index) tuples, cycled through, or a
        function step -> such a tuple.
    clip: global gradient-norm bound (None to not clip).
    val_fn: model -> validation loss, called every eval_every steps and at the end.
    sample_fn: model -> text, recorded (and printed when verbose) every sample_every steps.
    carry_state: pass the final hidden state of each batch into the next (truncated BPTT
        over a stream); a list of windows starts again from zeros when it wraps around.
    callback: history -> None every eval_every steps and at the end (live plots).
    should_stop: () -> bool, polled every step (a Stop button).
    history: a History to append to, to continue an earlier run.
    """
    checks.positive("steps", steps, integer=True)
    checks.positive("eval_every", eval_every, integer=True)
    get_batch, period = _batch_source(batches)
    history = history if history is not None else History()
    first = history.steps[-1] + 1 if history.steps else 0
    bar = optional_bar(steps, "training", enabled=progress)
    state, k = None, 0
    try:
        for k in range(steps):
            step = first + k
            if should_stop is not None and should_stop():
                history.stopped_reason = f"stopped at step {step}"
                break
            x, y, ignore = get_batch(step)
            if not carry_state or (period and step % period == 0):
                state = None
            with np.errstate(over="ignore", invalid="ignore"):  # a non-finite loss is reported below
                loss, grads, new_state = model.loss_and_grads(x, y, state, ignore_index=ignore)
            if not math.isfinite(loss):
                history.stopped_reason = (f"the loss became {loss} at step {step}; training stopped before "
                                          "that update, keeping the last finite parameters. Try a smaller "
                                          "learning rate or a tighter gradient clip.")
                break
            grads, norm = clip_gradients(grads, clip) if clip else (grads, None)
            optimizer.step(grads)
            state = new_state if carry_state else None
            history.steps.append(step)
            history.train_loss.append(loss)
            history.grad_norm.append(norm)
            done = k + 1
            if done % eval_every == 0 or done == steps:
                if val_fn is not None:
                    history.val_steps.append(step)
                    history.val_loss.append(float(val_fn(model)))
                if callback is not None:
                    callback(history)
            if sample_fn is not None and sample_every and done % sample_every == 0:
                history.samples.append((step, sample_fn(model)))
                if verbose:
                    print(f"step {step + 1}: {history.samples[-1][1]!r}")
            if bar is not None:
                bar.update(done, loss=loss, **({"val": history.last_val} if history.val_loss else {}))
    except KeyboardInterrupt:
        history.stopped_reason = f"interrupted at step {first + k}"
    finally:
        if bar is not None:
            bar.close()
    if history.stopped_reason and verbose:
        print(f"Training ended early: {history.stopped_reason}")
    return history
