"""Linear models of sklearn.linear_model, quantized and compiled to FHE.

Each class takes scikit-learn's constructor arguments plus ``n_bits`` (an int for inputs and
weights, or a dict ``{"op_inputs": a, "op_weights": b}``, each in 1..16). Training is done by the
wrapped scikit-learn estimator; ``predict(X, fhe="disable" | "simulate" | "execute")`` runs the
quantized model in the clear, in FHE simulation, or under real encryption (after ``compile``).
"""

import numpy
import sklearn.linear_model
from sklearn.utils.metaestimators import available_if

from torusml import _core
from torusml.sklearn._base import LinearClassifierBase, LinearRegressorBase


class LinearRegression(LinearRegressorBase):
    """Ordinary least squares (sklearn.linear_model.LinearRegression), multi-output included."""

    sklearn_class = sklearn.linear_model.LinearRegression

    def __init__(self, *, fit_intercept=True, copy_X=True, n_jobs=None, positive=False, n_bits=8):
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.n_jobs = n_jobs
        self.positive = positive
        self.n_bits = n_bits


class Ridge(LinearRegressorBase):
    """Least squares with L2 regularization (sklearn.linear_model.Ridge)."""

    sklearn_class = sklearn.linear_model.Ridge

    def __init__(
        self,
        alpha=1.0,
        *,
        fit_intercept=True,
        copy_X=True,
        max_iter=None,
        tol=1e-4,
        solver="auto",
        positive=False,
        random_state=None,
        n_bits=8,
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.positive = positive
        self.random_state = random_state
        self.n_bits = n_bits


class Lasso(LinearRegressorBase):
    """Least squares with L1 regularization (sklearn.linear_model.Lasso)."""

    sklearn_class = sklearn.linear_model.Lasso

    def __init__(
        self,
        alpha=1.0,
        *,
        fit_intercept=True,
        precompute=False,
        copy_X=True,
        max_iter=1000,
        tol=1e-4,
        warm_start=False,
        positive=False,
        random_state=None,
        selection="cyclic",
        n_bits=8,
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.n_bits = n_bits


class ElasticNet(LinearRegressorBase):
    """Least squares with combined L1 and L2 regularization (sklearn.linear_model.ElasticNet)."""

    sklearn_class = sklearn.linear_model.ElasticNet

    def __init__(
        self,
        alpha=1.0,
        *,
        l1_ratio=0.5,
        fit_intercept=True,
        precompute=False,
        max_iter=1000,
        copy_X=True,
        tol=1e-4,
        warm_start=False,
        positive=False,
        random_state=None,
        selection="cyclic",
        n_bits=8,
    ):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.copy_X = copy_X
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.n_bits = n_bits


class SGDRegressor(LinearRegressorBase):
    """Linear regression by stochastic gradient descent (sklearn.linear_model.SGDRegressor)."""

    sklearn_class = sklearn.linear_model.SGDRegressor

    def __init__(
        self,
        loss="squared_error",
        *,
        penalty="l2",
        alpha=0.0001,
        l1_ratio=0.15,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-3,
        shuffle=True,
        verbose=0,
        epsilon=0.1,
        random_state=None,
        learning_rate="invscaling",
        eta0=0.01,
        power_t=0.25,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        warm_start=False,
        average=False,
        n_bits=8,
    ):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.epsilon = epsilon
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.average = average
        self.n_bits = n_bits


class _GlmRegressor(LinearRegressorBase):
    """Generalized linear models with a log link: exp applied in the clear after decryption."""

    def _link(self, sklearn_model):
        return "log"


class PoissonRegressor(_GlmRegressor):
    """Poisson regression with a log link (sklearn.linear_model.PoissonRegressor)."""

    sklearn_class = sklearn.linear_model.PoissonRegressor

    def __init__(
        self,
        *,
        alpha=1.0,
        fit_intercept=True,
        solver="lbfgs",
        max_iter=100,
        tol=1e-4,
        warm_start=False,
        verbose=0,
        n_bits=8,
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.verbose = verbose
        self.n_bits = n_bits


class GammaRegressor(_GlmRegressor):
    """Gamma regression with a log link (sklearn.linear_model.GammaRegressor)."""

    sklearn_class = sklearn.linear_model.GammaRegressor

    def __init__(
        self,
        *,
        alpha=1.0,
        fit_intercept=True,
        solver="lbfgs",
        max_iter=100,
        tol=1e-4,
        warm_start=False,
        verbose=0,
        n_bits=8,
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.verbose = verbose
        self.n_bits = n_bits


class TweedieRegressor(LinearRegressorBase):
    """Tweedie regression (sklearn.linear_model.TweedieRegressor).

    link='auto' is the identity for power <= 0 and log (exp in the clear) otherwise.
    """

    sklearn_class = sklearn.linear_model.TweedieRegressor

    def __init__(
        self,
        *,
        power=0.0,
        alpha=1.0,
        fit_intercept=True,
        link="auto",
        solver="lbfgs",
        max_iter=100,
        tol=1e-4,
        warm_start=False,
        verbose=0,
        n_bits=8,
    ):
        self.power = power
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.link = link
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.verbose = verbose
        self.n_bits = n_bits

    def _link(self, sklearn_model):
        # The fitted model's parameters decide (they are the ones its weights were trained for).
        params = sklearn_model.get_params()
        if params["link"] == "auto":
            return "identity" if params["power"] <= 0 else "log"
        return params["link"]


class LogisticRegression(LinearClassifierBase):
    """Logistic regression (sklearn.linear_model.LogisticRegression): binary and multi-class."""

    sklearn_class = sklearn.linear_model.LogisticRegression

    def __init__(
        self,
        penalty="l2",
        *,
        dual=False,
        tol=1e-4,
        C=1.0,
        fit_intercept=True,
        intercept_scaling=1,
        class_weight=None,
        random_state=None,
        solver="lbfgs",
        max_iter=100,
        multi_class="auto",
        verbose=0,
        warm_start=False,
        n_jobs=None,
        l1_ratio=None,
        n_bits=8,
    ):
        self.penalty = penalty
        self.dual = dual
        self.tol = tol
        self.C = C
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.multi_class = multi_class
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.l1_ratio = l1_ratio
        self.n_bits = n_bits

    @staticmethod
    def _is_multinomial(sklearn_model):
        # As scikit-learn decides it for the fitted model: one-vs-rest for 2 classes under 'auto',
        # for liblinear, or when asked; multinomial (softmax) otherwise.
        params = sklearn_model.get_params()
        ovr = params["multi_class"] in ("ovr", "warn") or (
            params["multi_class"] == "auto"
            and (len(sklearn_model.classes_) <= 2 or params["solver"] == "liblinear")
        )
        return not ovr

    def predict_proba(self, X, fhe="disable", execute_in_fhe=False):
        """Class probabilities, (n_samples, n_classes): sigmoid or softmax in the clear."""
        state, scores = self._linear_output(X, fhe, execute_in_fhe)
        return self._logistic_proba(scores, self._is_multinomial(state.sklearn_model))


class SGDClassifier(LinearClassifierBase):
    """Linear classifiers by stochastic gradient descent (sklearn.linear_model.SGDClassifier).

    predict_proba exists for loss='log_loss' and loss='modified_huber', as in scikit-learn.
    """

    sklearn_class = sklearn.linear_model.SGDClassifier

    def __init__(
        self,
        loss="hinge",
        *,
        penalty="l2",
        alpha=0.0001,
        l1_ratio=0.15,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-3,
        shuffle=True,
        verbose=0,
        epsilon=0.1,
        n_jobs=None,
        random_state=None,
        learning_rate="optimal",
        eta0=0.0,
        power_t=0.5,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        class_weight=None,
        warm_start=False,
        average=False,
        n_bits=8,
    ):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.epsilon = epsilon
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.average = average
        self.n_bits = n_bits

    def _check_proba(self):
        if self.loss not in ("log_loss", "log", "modified_huber"):
            raise AttributeError(
                f"probability estimates are not available for loss={self.loss!r}; use "
                f"loss='log_loss' or loss='modified_huber'"
            )
        return True

    @available_if(_check_proba)
    def predict_proba(self, X, fhe="disable", execute_in_fhe=False):
        """Class probabilities, (n_samples, n_classes), as scikit-learn computes them."""
        state, scores = self._linear_output(X, fhe, execute_in_fhe)
        fitted_loss = state.sklearn_model.get_params()["loss"]
        if fitted_loss in ("log_loss", "log"):
            return self._logistic_proba(scores, multinomial=False)
        if fitted_loss != "modified_huber":
            raise ValueError(
                f"this model was fitted with loss={fitted_loss!r}, which gives no probability "
                f"estimates (loss={self.loss!r} takes effect at the next fit): call fit(X, y) "
                f"again"
            )
        # modified_huber: (clip(score, -1, 1) + 1) / 2, normalized over the classes.
        probabilities = (scores.clip(-1.0, 1.0) + 1.0) / 2.0
        if scores.shape[1] == 1:
            return numpy.hstack([1.0 - probabilities, probabilities])
        return _core.normalize_rows(probabilities)
