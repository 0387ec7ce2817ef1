"""Multinomial logistic regression over a message's sentence features: the sparse n-gram counts and the dense
sentence embedding, kept apart.

This is the model scikit-learn's LogisticRegression fits (softmax over the labels, classes weighted to balance them,
L2 penalty 1/C on the weights, not on the biases), to L-BFGS-B's stopping rules, plus one more: the fit also stops
once its loss has stopped falling (PLATEAU), where the predictions no longer change. What differs is the
arithmetic. scikit-learn takes one sparse matrix, so the embedding values of every example become sparse entries
multiplied one by one, and SciPy's L-BFGS-B spends more on its own bookkeeping than on the loss for hundreds of
thousands of weights. Here the n-gram counts stay sparse, the embeddings stay a dense block multiplied by BLAS, and
L-BFGS is a few vector products in NumPy. The intent classifier (bot/nlu/linear_intents.py) and the response
selectors (bot/nlu/response_selection.py) use it.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message
from scipy.linalg.blas import daxpy
from scipy.sparse import csr_matrix, hstack, vstack

logger = logging.getLogger(__name__)


# The message's own sparse and dense rows, made once: the intent classifier and each response selector read them.
# Kept as an attribute of the message with the number of features they were made from, not in its data: Rasa's
# training fingerprints every message's data before each component, and arrays there are hashed by their repr
# (a fifth of a training on 10,000 examples).
ROWS_ATTRIBUTE = "_hearth_sentence_feature_rows"


def _rows(message: Message) -> tuple[csr_matrix | None, np.ndarray | None]:
    kept = getattr(message, ROWS_ATTRIBUTE, None)
    if kept is not None and kept[0] == len(message.features):
        return kept[1]
    rows = _sentence_rows(message)
    setattr(message, ROWS_ATTRIBUTE, (len(message.features), rows))
    return rows


def _sentence_rows(message: Message) -> tuple[csr_matrix | None, np.ndarray | None]:
    """The message's sentence-level features of its text, each kind side by side in the order they were added: what
    Rasa's get_sparse_features and get_dense_features give as their second part. Made here because those also
    combine the token-level features, which the classifiers do not read, and join one-row matrices with SciPy's
    hstack: a tenth of a parse."""
    sentence = [f for f in message.features if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE]
    sparse_parts = [f.features for f in sentence if f.is_sparse()]
    dense_parts = [np.asarray(f.features, dtype=np.float64).reshape(-1) for f in sentence if f.is_dense()]
    sparse = None
    if sparse_parts and all(part.shape[0] == 1 for part in sparse_parts):
        columns, values, offset = [], [], 0
        for part in sparse_parts:
            entries = part.tocoo()
            columns.append(entries.col.astype(np.int64) + offset)
            values.append(entries.data.astype(np.float64))
            offset += part.shape[1]
        column = np.concatenate(columns)
        row = np.zeros(len(column), dtype=np.int64)
        sparse = csr_matrix((np.concatenate(values), (row, column)), shape=(1, offset))
    elif sparse_parts:
        sparse = csr_matrix(hstack(sparse_parts), dtype=np.float64)
    dense = np.concatenate(dense_parts) if dense_parts else None
    return sparse, dense


def features(
    messages: list[Message], sparse_width: int | None = None, dense_width: int | None = None
) -> tuple[csr_matrix, np.ndarray]:
    """The messages' sentence features: the sparse block (n-gram counts) and the dense block (embedding)."""
    sparse_rows, dense_rows = zip(*(_rows(m) for m in messages), strict=True) if messages else ((), ())
    if sparse_width is None:
        sparse_width = next((r.shape[1] for r in sparse_rows if r is not None), 0)
    if dense_width is None:
        dense_width = next((len(r) for r in dense_rows if r is not None), 0)
    blank = csr_matrix((1, sparse_width))
    rows = [r if r is not None and r.shape[1] == sparse_width else blank for r in sparse_rows]
    if not rows:
        sparse_block = csr_matrix((0, sparse_width))
    else:
        sparse_block = rows[0] if len(rows) == 1 else vstack(rows, format="csr")
    dense_block = np.zeros((len(messages), dense_width))
    for row, values in enumerate(dense_rows):
        if values is not None and len(values) == dense_width:
            dense_block[row] = values
    return sparse_block.astype(np.float64, copy=False), dense_block


def lbfgs(
    function: Callable[[np.ndarray], tuple[float, np.ndarray]], x: np.ndarray, max_iter: int, gtol: float,
    history: int = 10, plateau: float = 0.0, plateau_steps: int = 10,
) -> tuple[np.ndarray, int, bool]:  # fmt: skip
    """Minimises a smooth convex function by L-BFGS with a backtracking (Armijo) line search, in NumPy.

    SciPy's L-BFGS-B (Fortran, with bounds) spends more on its own bookkeeping than on the loss for the
    hundreds of thousands of weights here; without bounds, the two-loop recursion is a few vector products.
    It stops as L-BFGS-B does: the largest gradient entry at most `gtol`, or the relative decrease of the
    function below 64 machine epsilons... times 1e7 / 64, L-BFGS-B's default factr. The vectors are millions
    long, so the recursion works in place (BLAS's axpy) in buffers made once: a fresh array of that size per
    operation costs more in page faults than the arithmetic.

    With `plateau` > 0 it also stops once the function fell by less than that fraction of its value over the last
    `plateau_steps` steps: the long flat end of a fit over millions of weights, where the per-step rule above waits
    for one step that happens to gain almost nothing while the predictions no longer change."""
    fx, g = function(x)
    recent: deque[float] = deque([fx], maxlen=plateau_steps + 1)
    pairs: deque[tuple[np.ndarray, np.ndarray, float]] = deque()
    ftol = 1e7 * np.finfo(float).eps
    q, scratch = np.empty_like(x), np.empty_like(x)
    for step in range(max_iter):
        if np.abs(g).max() <= gtol:
            return x, step, True
        np.copyto(q, g)
        alphas = []
        for s, y, rho in reversed(pairs):
            a = rho * np.dot(s, q)
            daxpy(y, q, a=-a)  # q -= a * y, in place
            alphas.append(a)
        if pairs:
            s, y, _ = pairs[-1]
            q *= np.dot(s, y) / np.dot(y, y)
        else:
            q /= max(1.0, float(np.linalg.norm(g)))
        for (s, y, rho), a in zip(pairs, reversed(alphas), strict=True):
            daxpy(s, q, a=a - rho * np.dot(y, q))
        direction = np.negative(q, out=q)
        slope = float(np.dot(g, direction))
        if slope >= 0:  # not a descent direction: start the curvature history afresh
            pairs.clear()
            np.negative(g, out=direction)
            slope = -float(np.dot(g, g))
        # the oldest pair's arrays, when the history is full, take the new step and gradient change
        s_new, y_new = (pairs.popleft()[:2]) if len(pairs) == history else (np.empty_like(x), np.empty_like(x))
        t = 1.0
        for _ in range(60):
            np.multiply(direction, t, out=s_new)
            np.copyto(scratch, x)
            candidate = daxpy(direction, scratch, a=t)
            f_new, g_new = function(candidate)
            if f_new <= fx + 1e-4 * t * slope:
                break
            t *= 0.5
        else:
            return x, step, False
        np.subtract(g_new, g, out=y_new)
        sy = float(np.dot(s_new, y_new))
        if sy > 1e-10 * float(np.dot(y_new, y_new)):
            pairs.append((s_new, y_new, 1.0 / sy))
        decrease = (fx - f_new) / max(abs(fx), abs(f_new), 1.0)
        x, scratch = candidate, x  # the old point's array is the next scratch
        fx, g = f_new, g_new
        recent.append(fx)
        if decrease <= ftol:
            return x, step + 1, True
        if len(recent) == recent.maxlen and recent[0] - fx <= plateau * max(abs(fx), 1.0):
            return x, step + 1, True
    return x, max_iter, False


# The fits stop when the loss fell by less than this fraction over the last ten L-BFGS steps. On HWU64 (9,960
# examples, 2.5 million weights) that is step ~350 of ~590: from there on the held-out accuracy stays the same and 1
# prediction in 2,000 differs from the fully converged model's (docs/measurements.md, "Training").
PLATEAU = 1e-5


def _row_blocks(matrix: csr_matrix, count: int) -> list[tuple[int, int, csr_matrix]]:
    """The matrix cut into `count` blocks of rows with about the same number of entries each."""
    bounds = np.searchsorted(matrix.indptr, np.linspace(0, matrix.nnz, count + 1)[1:-1])
    edges = [0, *sorted({int(b) for b in bounds if 0 < b < matrix.shape[0]}), matrix.shape[0]]
    return [(start, stop, matrix[start:stop]) for start, stop in zip(edges, edges[1:], strict=False) if stop > start]


class SoftmaxModel:
    """Weights for the sparse block, the dense block and the biases; fit by L-BFGS on the weighted penalised loss."""

    def __init__(self, sparse_weights: np.ndarray, dense_weights: np.ndarray, biases: np.ndarray) -> None:
        self.sparse_weights, self.dense_weights, self.biases = sparse_weights, dense_weights, biases

    @property
    def widths(self) -> tuple[int, int]:
        """The widths of the sparse and dense blocks it was trained on (features() pads or blanks to them)."""
        return self.sparse_weights.shape[0], self.dense_weights.shape[0]

    def predict(self, messages: list[Message]) -> np.ndarray:
        """Each message's probability of each label."""
        return self.probabilities(*features(messages, *self.widths))

    def save(self, path: Path) -> None:
        np.savez(path, sparse=self.sparse_weights, dense=self.dense_weights, biases=self.biases)

    @classmethod
    def load(cls, path: Path) -> SoftmaxModel:
        """Weights as NumPy arrays only: no pickle is ever read."""
        with np.load(path, allow_pickle=False) as weights:
            return cls(weights["sparse"], weights["dense"], weights["biases"])

    def logits(self, sparse: csr_matrix, dense: np.ndarray) -> np.ndarray:
        return np.asarray(sparse @ self.sparse_weights) + dense @ self.dense_weights + self.biases

    def probabilities(self, sparse: csr_matrix, dense: np.ndarray) -> np.ndarray:
        z = self.logits(sparse, dense)
        z -= z.max(1, keepdims=True)
        np.exp(z, out=z)
        return z / z.sum(1, keepdims=True)

    @classmethod
    def fit(cls, sparse: csr_matrix, dense: np.ndarray, y: np.ndarray, classes: int, c: float, max_iter: int,
            tol: float, plateau: float = PLATEAU) -> tuple[SoftmaxModel, int]:  # fmt: skip
        n, s_width = sparse.shape
        d_width = dense.shape[1]
        counts = np.bincount(y, minlength=classes).astype(np.float64)
        sample_weight = (n / (classes * counts))[y]  # scikit-learn's class_weight="balanced"
        onehot = np.zeros((n, classes))
        onehot[np.arange(n), y] = 1.0
        sizes = (s_width * classes, d_width * classes, classes)
        # SciPy's sparse products release the GIL: each one runs as row blocks on the machine's cores
        workers = max(1, min(4, os.cpu_count() or 1))
        blocks, blocks_t = _row_blocks(sparse, workers), _row_blocks(sparse.T.tocsr(), workers)
        pool = ThreadPoolExecutor(workers) if workers > 1 else None

        def times(parts: list[tuple[int, int, csr_matrix]], dense_rhs: np.ndarray, out: np.ndarray) -> np.ndarray:
            def one(part: tuple[int, int, csr_matrix]) -> None:
                start, stop, block = part
                out[start:stop] = block @ dense_rhs

            if pool is None:
                for part in parts:
                    one(part)
            else:
                list(pool.map(one, parts))
            return out

        def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            a, b = sizes[0], sizes[0] + sizes[1]
            return theta[:a].reshape(s_width, classes), theta[a:b].reshape(d_width, classes), theta[b:]

        def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
            ws, wd, b = unpack(theta)
            z = times(blocks, ws, np.empty((n, classes)))
            z += dense @ wd
            z += b
            z -= z.max(1, keepdims=True)
            log_norm = np.log(np.exp(z).sum(1))
            log_p = z - log_norm[:, None]
            # scikit-learn's objective: the weighted log loss plus half the squared weights over C
            loss = -(sample_weight * (log_p * onehot).sum(1)).sum()
            loss += 0.5 / c * (np.dot(ws.ravel(), ws.ravel()) + np.dot(wd.ravel(), wd.ravel()))
            g = (np.exp(log_p) - onehot) * sample_weight[:, None]
            # the gradient written in place into one new vector: the sparse block's, the dense block's, the biases'
            gradient = np.empty(sum(sizes))
            grad_s, grad_d, grad_b = unpack(gradient)
            times(blocks_t, g, grad_s)
            np.dot(dense.T, g, out=grad_d)
            daxpy(theta[: sizes[0] + sizes[1]], gradient[: sizes[0] + sizes[1]], a=1.0 / c)  # + weights / C
            grad_b[:] = g.sum(0)
            return float(loss), gradient

        try:
            solution, steps, converged = lbfgs(loss_and_gradient, np.zeros(sum(sizes)), max_iter, tol, plateau=plateau)
        finally:
            if pool is not None:
                pool.shutdown()
        if not converged:
            logger.warning("logistic regression: L-BFGS stopped after %d steps without converging", steps)
        return cls(*unpack(solution)), steps
