"""Linear support vector machines of sklearn.svm, quantized and compiled to FHE.

Same conventions as torusml.sklearn.linear_model: scikit-learn's arguments plus ``n_bits``
(default 8), the constructor generated from the scikit-learn class's signature.
"""

import sklearn.svm

from torusml.sklearn._base import LinearClassifierBase, LinearRegressorBase


class LinearSVC(LinearClassifierBase):
    """Linear support vector classification (sklearn.svm.LinearSVC); no predict_proba."""

    sklearn_class = sklearn.svm.LinearSVC


class LinearSVR(LinearRegressorBase):
    """Linear support vector regression (sklearn.svm.LinearSVR)."""

    sklearn_class = sklearn.svm.LinearSVR
