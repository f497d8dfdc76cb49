"""Decision trees of sklearn.tree, quantized and compiled to FHE.

Each class takes scikit-learn's constructor arguments plus ``n_bits`` (an int for inputs and leaf
values, or a dict ``{"op_inputs": a, "op_leaves": b}``, each in 1..16; default 6) and ``fhe_sum``
(sum the trees under encryption; a single tree has nothing to sum). Training is done by the
wrapped scikit-learn estimator; ``predict(X, fhe="disable" | "simulate" | "execute")`` runs the
quantized tree in the clear, in FHE simulation, or under real encryption (after ``compile``).
Inputs are quantized per feature and the thresholds mapped onto the same integer grid, so the
quantized tree takes the float tree's decisions on inputs of that grid.
"""

import sklearn.tree

from torusml.sklearn._tree_base import TreeClassifierBase, TreeRegressorBase, sklearn_trees


class DecisionTreeClassifier(TreeClassifierBase):
    """A decision tree classifier (sklearn.tree.DecisionTreeClassifier): binary, multi-class and
    multi-output; predict_proba gives the leaf's quantized class frequencies."""

    sklearn_class = sklearn.tree.DecisionTreeClassifier

    @staticmethod
    def _read_trees(sklearn_model):
        return sklearn_trees(sklearn_model, is_classifier=True)


class DecisionTreeRegressor(TreeRegressorBase):
    """A decision tree regressor (sklearn.tree.DecisionTreeRegressor), multi-output included."""

    sklearn_class = sklearn.tree.DecisionTreeRegressor

    @staticmethod
    def _read_trees(sklearn_model):
        return sklearn_trees(sklearn_model, is_classifier=False)
