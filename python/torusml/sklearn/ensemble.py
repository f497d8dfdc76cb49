"""Random forests of sklearn.ensemble, quantized and compiled to FHE.

Same conventions as torusml.sklearn.tree: scikit-learn's arguments plus ``n_bits`` (default 6) and
``fhe_sum``. The forest's average is the sum over its trees (computed by the FHE circuit: per
tree, decrypted and added in the clear by default; under encryption with ``fhe_sum=True``, so that
the client decrypts one value per output and learns nothing about individual trees) divided by
the number of trees after decryption.
"""

import sklearn.ensemble

from torusml.sklearn._tree_base import TreeClassifierBase, TreeRegressorBase, sklearn_trees


class RandomForestClassifier(TreeClassifierBase):
    """A random forest classifier (sklearn.ensemble.RandomForestClassifier): binary, multi-class
    and multi-output; predict_proba averages the trees' quantized class frequencies."""

    sklearn_class = sklearn.ensemble.RandomForestClassifier

    @staticmethod
    def _read_trees(sklearn_model):
        return sklearn_trees(sklearn_model, is_classifier=True)


class RandomForestRegressor(TreeRegressorBase):
    """A random forest regressor (sklearn.ensemble.RandomForestRegressor), multi-output
    included."""

    sklearn_class = sklearn.ensemble.RandomForestRegressor

    @staticmethod
    def _read_trees(sklearn_model):
        return sklearn_trees(sklearn_model, is_classifier=False)
