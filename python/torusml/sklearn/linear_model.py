"""Linear models of sklearn.linear_model, quantized and compiled to FHE.

Each class takes scikit-learn's constructor arguments plus ``n_bits`` (an int for inputs and
weights, or a dict ``{"op_inputs": a, "op_weights": b}``, each in 1..16; default 8), its
constructor generated from the scikit-learn class's signature. Training is done by the
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


class Ridge(LinearRegressorBase):
    """Least squares with L2 regularization (sklearn.linear_model.Ridge)."""

    sklearn_class = sklearn.linear_model.Ridge


class Lasso(LinearRegressorBase):
    """Least squares with L1 regularization (sklearn.linear_model.Lasso)."""

    sklearn_class = sklearn.linear_model.Lasso


class ElasticNet(LinearRegressorBase):
    """Least squares with combined L1 and L2 regularization (sklearn.linear_model.ElasticNet)."""

    sklearn_class = sklearn.linear_model.ElasticNet


class SGDRegressor(LinearRegressorBase):
    """Linear regression by stochastic gradient descent (sklearn.linear_model.SGDRegressor)."""

    sklearn_class = sklearn.linear_model.SGDRegressor


class _GlmRegressor(LinearRegressorBase):
    """Generalized linear models with a log link: exp applied in the clear after decryption."""

    def _link(self, sklearn_model):
        return "log"


class PoissonRegressor(_GlmRegressor):
    """Poisson regression with a log link (sklearn.linear_model.PoissonRegressor)."""

    sklearn_class = sklearn.linear_model.PoissonRegressor


class GammaRegressor(_GlmRegressor):
    """Gamma regression with a log link (sklearn.linear_model.GammaRegressor)."""

    sklearn_class = sklearn.linear_model.GammaRegressor


class TweedieRegressor(LinearRegressorBase):
    """Tweedie regression (sklearn.linear_model.TweedieRegressor).

    link='auto' is the identity for power <= 0 and log (exp in the clear) otherwise.
    """

    sklearn_class = sklearn.linear_model.TweedieRegressor

    def _link(self, sklearn_model):
        # The fitted model's parameters decide (they are the ones its weights were trained for).
        params = sklearn_model.get_params()
        if params["link"] == "auto":
            return "identity" if params["power"] <= 0 else "log"
        return params["link"]


class LogisticRegression(LinearClassifierBase):
    """Logistic regression (sklearn.linear_model.LogisticRegression): binary and multi-class."""

    sklearn_class = sklearn.linear_model.LogisticRegression

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
