"""Optimisers that update a dict of parameter arrays in place, and gradient clipping.

    opt = Adam(model.params, lr=3e-3)
    loss, grads, state = model.loss_and_grads(x, y, state)
    grads, norm = clip_gradients(grads, max_norm=5.0)
    opt.step(grads)
"""
import numpy as np

from . import checks


def global_norm(grads):
    """sqrt of the sum of squares of every gradient entry, accumulated in float64."""
    return float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads.values())))


def clip_gradients(grads, max_norm):
    """Scale all gradients together so their global norm is at most max_norm.

    Scaling every array by the same factor keeps the update's direction, unlike clipping
    each entry. Returns (clipped copy of grads, global norm before clipping); the input
    dict is not changed.
    """
    checks.positive("max_norm", max_norm)
    norm = global_norm(grads)
    scale = min(1.0, max_norm / (norm + 1e-6))
    return {name: g * g.dtype.type(scale) for name, g in grads.items()}, norm


class Optimizer:
    """Base class: holds the parameter dict and checks that gradients match it."""

    def __init__(self, params, lr):
        if not isinstance(params, dict) or not params:
            raise TypeError("params must be a non-empty dict of arrays, such as model.params")
        self.params = params
        self.lr = checks.positive("lr", lr)

    def step(self, grads):
        if set(grads) != set(self.params):
            raise ValueError(f"grads must have the same keys as params; missing {sorted(set(self.params) - set(grads))}, "
                             f"unexpected {sorted(set(grads) - set(self.params))}")
        for name, p in self.params.items():
            g = grads[name]
            if g.shape != p.shape:
                raise ValueError(f"grads[{name!r}] has shape {g.shape}, the parameter has {p.shape}")
            self._update(name, p, g.astype(p.dtype, copy=False))

    def _update(self, name, p, g):
        raise NotImplementedError


class SGD(Optimizer):
    """p -= lr * v, with v = momentum * v + g (plain gradient descent when momentum = 0)."""

    def __init__(self, params, lr=0.1, momentum=0.0):
        super().__init__(params, lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = momentum
        self.velocity = {name: np.zeros_like(p) for name, p in params.items()}

    def _update(self, name, p, g):
        v = self.velocity[name]
        v *= self.momentum
        v += g
        p -= self.lr * v


class AdaGrad(Optimizer):
    """Each entry's step shrinks with the sum of its squared gradients (min-char-rnn's choice)."""

    def __init__(self, params, lr=0.1, eps=1e-8):
        super().__init__(params, lr)
        self.eps = eps
        self.sum_sq = {name: np.zeros_like(p) for name, p in params.items()}

    def _update(self, name, p, g):
        s = self.sum_sq[name]
        s += g * g
        p -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam(Optimizer):
    """Adam: momentum on the gradient and on its square, both bias-corrected.

    weight_decay > 0 gives AdamW (decay applied to the weights directly, not through g).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        if not all(0 <= beta < 1 for beta in betas):
            raise ValueError(f"betas must both be in [0, 1), got {betas!r}")
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}
        self.t = 0

    def step(self, grads):
        self.t += 1
        super().step(grads)

    def _update(self, name, p, g):
        b1, b2 = self.betas
        m, v = self.m[name], self.v[name]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        if self.weight_decay:
            p -= self.lr * self.weight_decay * p
        step = self.lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        p -= step * m / (np.sqrt(v) + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.01)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)
