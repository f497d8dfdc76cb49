"""Linear support vector machines of sklearn.svm, quantized and compiled to FHE.

Same conventions as torusml.sklearn.linear_model: scikit-learn's arguments plus ``n_bits``.
"""

import sklearn.svm

from torusml.sklearn._base import LinearClassifierBase, LinearRegressorBase


class LinearSVC(LinearClassifierBase):
    """Linear support vector classification (sklearn.svm.LinearSVC); no predict_proba."""

    sklearn_class = sklearn.svm.LinearSVC

    def __init__(
        self,
        penalty="l2",
        loss="squared_hinge",
        *,
        dual=True,
        tol=1e-4,
        C=1.0,
        multi_class="ovr",
        fit_intercept=True,
        intercept_scaling=1,
        class_weight=None,
        verbose=0,
        random_state=None,
        max_iter=1000,
        n_bits=8,
    ):
        self.penalty = penalty
        self.loss = loss
        self.dual = dual
        self.tol = tol
        self.C = C
        self.multi_class = multi_class
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.verbose = verbose
        self.random_state = random_state
        self.max_iter = max_iter
        self.n_bits = n_bits


class LinearSVR(LinearRegressorBase):
    """Linear support vector regression (sklearn.svm.LinearSVR)."""

    sklearn_class = sklearn.svm.LinearSVR

    def __init__(
        self,
        *,
        epsilon=0.0,
        tol=1e-4,
        C=1.0,
        loss="epsilon_insensitive",
        fit_intercept=True,
        intercept_scaling=1.0,
        dual=True,
        verbose=0,
        random_state=None,
        max_iter=1000,
        n_bits=8,
    ):
        self.epsilon = epsilon
        self.tol = tol
        self.C = C
        self.loss = loss
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.dual = dual
        self.verbose = verbose
        self.random_state = random_state
        self.max_iter = max_iter
        self.n_bits = n_bits
