"""Shared plumbing of the tree models (private): decision trees, random forests, XGBoost.

Every model wraps a fitted tree model (scikit-learn's or XGBoost's), reads its trees into plain
arrays (per node: feature, threshold, left and right child, leaf values) and hands them to the C++
core, ``torusml._core.QuantizedTreeEnsemble``, which quantizes the inputs per feature to
``op_inputs`` bits, maps the thresholds onto the same integer grid (so that every decision is
exact on integers), quantizes the leaf values to ``op_leaves`` bits and compiles the ensemble to
FHE. The C++ model returns, in every mode, the sum over the trees of the leaf values reached;
Python then applies the model's own transform in the clear: the average of a forest, XGBoost's
base score, probabilities (sigmoid, softmax, or the leaves' class frequencies) and class labels.

What the trees carry, per model:

- scikit-learn classifiers: each leaf's class frequencies (sklearn's ``predict_proba`` of one
  tree), one output per class, except two classes: one output (the probability of the second
  class), which halves the leaf lookups; forests average them (sum in FHE, divided here).
- scikit-learn regressors: each leaf's mean target, one output per target.
- XGBoost: each leaf's margin, in the output of its class (multi-class: the tree's group); the
  base score, sigmoid or softmax added here. Splits go left iff x < threshold (scikit-learn:
  x <= threshold).

The fitted state (wrapped model, bit widths, fhe_sum, C++ model and the transform) is one
immutable ``_TreeFittedState``, replaced as a whole by ``fit``, as for the linear models (see
``_base``): a model can be shared between threads.
"""

import json
import math
import numbers

import numpy
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from torusml import _core
from torusml.sklearn._base import (
    BaseQuantizedModel,
    check_n_features,
    parse_n_bits,
    resolve_fhe_mode,
)

TREE_N_BITS_KEYS = ("op_inputs", "op_leaves")
DEFAULT_N_BITS = 6
MAX_INPUT_BITS = 8  # the comparisons read the quantized inputs (the C++ core's limit)


# ---- reading the trees -------------------------------------------------------------------------


def _tree_dict(feature, threshold, left, right, value):
    """One tree as the C++ core takes it, keeping only the nodes reachable from the root (node 0;
    XGBoost's pruning leaves deleted nodes behind), in their order. At leaves: feature, left and
    right are -1."""
    left = numpy.asarray(left, dtype=numpy.int64)
    right = numpy.asarray(right, dtype=numpy.int64)
    reached = [0]
    for node in reached:  # grows while iterating
        if left[node] >= 0:
            reached += [int(left[node]), int(right[node])]
    order = numpy.sort(numpy.asarray(reached, dtype=numpy.int64))
    new_index = numpy.full(len(left), -1, dtype=numpy.int64)
    new_index[order] = numpy.arange(len(order))
    is_leaf = left[order] < 0
    remap = lambda children: numpy.where(is_leaf, -1, new_index[children[order]])  # noqa: E731
    return {
        "feature": numpy.where(is_leaf, -1, numpy.asarray(feature, numpy.int64)[order]),
        "threshold": numpy.where(is_leaf, 0.0, numpy.asarray(threshold, numpy.float64)[order]),
        "left": remap(left),
        "right": remap(right),
        "value": numpy.ascontiguousarray(numpy.asarray(value, numpy.float64)[order]),
    }


class _Target:
    """One classification target: its columns in the model's outputs and its classes."""

    __slots__ = ("start", "width", "classes")

    def __init__(self, start, width, classes):
        self.start, self.width, self.classes = start, width, classes

    def __reduce__(self):
        return (_Target, (self.start, self.width, self.classes))


class _Transform:
    """How the C++ model's outputs (the sum over trees of the leaf values, (n, n_outputs)) become
    predictions: values = outputs * scale + offset, then

    link 'identity': regression values (ravelled if output_is_1d);
    link 'frequency': per target, class frequencies (one column, the second class's, for two
    classes); link 'logistic': per target, margins (sigmoid for one column, else softmax).
    targets: one _Target per classification target (None for regressors).
    """

    __slots__ = ("scale", "offset", "link", "targets", "output_is_1d")

    def __init__(self, scale, offset, link, targets=None, output_is_1d=True):
        self.scale = float(scale)
        self.offset = numpy.asarray(offset, dtype=numpy.float64)
        self.link = link
        self.targets = None if targets is None else tuple(targets)
        self.output_is_1d = bool(output_is_1d)

    def __reduce__(self):
        return (_Transform, (self.scale, self.offset, self.link, self.targets, self.output_is_1d))

    def values(self, outputs):
        return outputs * self.scale + self.offset

    def regression(self, outputs):
        y = self.values(outputs)
        return y.ravel() if self.output_is_1d else y

    def probabilities(self, outputs):
        """One (n_samples, n_classes) array per target."""
        values = self.values(outputs)
        result = []
        for target in self.targets:
            block = numpy.ascontiguousarray(values[:, target.start:target.start + target.width])
            if len(target.classes) == 1:  # a single class seen at fit
                result.append(numpy.ones((len(values), 1)))
                continue
            if target.width == 1:
                if self.link == "logistic":
                    p = _core.sigmoid(block)
                else:  # quantized frequencies may stray a little outside [0, 1]
                    p = numpy.clip(block, 0.0, 1.0)
                result.append(numpy.hstack([1.0 - p, p]))
            elif self.link == "logistic":
                result.append(_core.softmax(block))
            else:
                result.append(_core.normalize_rows(numpy.clip(block, 0.0, None)))
        return result

    def labels(self, outputs):
        """Class labels: (n_samples,) for one target, else (n_samples, n_targets)."""
        columns = []
        for target, p in zip(self.targets, self.probabilities(outputs)):
            if p.shape[1] == 1:
                index = numpy.zeros(len(p), dtype=numpy.int64)
            elif p.shape[1] == 2:  # as scikit-learn's argmax and XGBoost's p > 0.5
                index = (p[:, 1] > 0.5).astype(numpy.int64)
            else:
                index = _core.argmax(p)
            columns.append(target.classes[index])
        if len(columns) == 1:
            return columns[0]
        labels = numpy.empty((len(columns[0]), len(columns)), dtype=self.targets[0].classes.dtype)
        for k, column in enumerate(columns):
            labels[:, k] = column
        return labels


def sklearn_trees(model, is_classifier):
    """(trees, transform) of a fitted scikit-learn tree or forest (RandomForest*, ExtraTrees*)."""
    estimators = getattr(model, "estimators_", None)
    estimators = [model] if estimators is None else list(estimators)
    scale = 1.0 / len(estimators)  # forests average their trees
    n_outputs = int(model.n_outputs_)
    targets = None
    if is_classifier:
        n_classes = numpy.atleast_1d(model.n_classes_).astype(int)
        classes = list(model.classes_) if n_outputs > 1 else [model.classes_]
        targets, start = [], 0
        for n_k, classes_k in zip(n_classes, classes):
            width = 1 if n_k <= 2 else int(n_k)
            targets.append(_Target(start, width, numpy.asarray(classes_k)))
            start += width
        n_columns = start
    else:
        n_columns = n_outputs
    trees = []
    for estimator in estimators:
        tree = estimator.tree_
        value = numpy.asarray(tree.value, dtype=numpy.float64)
        if is_classifier:
            # Class frequencies per node, as a tree's predict_proba computes them (weighted
            # counts over their total; a total of 0 left as is).
            columns = []
            for k, n_k in enumerate(n_classes):
                counts = value[:, k, :n_k]
                total = counts.sum(axis=1, keepdims=True)
                total[total == 0.0] = 1.0
                frequencies = counts / total
                columns.append(frequencies[:, 1:2] if n_k == 2 else frequencies)
            value = numpy.hstack(columns)
        else:
            value = value[:, :, 0]
        trees.append(_tree_dict(tree.feature, tree.threshold, tree.children_left,
                                tree.children_right, value))
    transform = _Transform(
        scale,
        numpy.zeros(n_columns),
        "frequency" if is_classifier else "identity",
        targets,
        output_is_1d=n_outputs == 1,
    )
    return trees, transform


# XGBoost objectives whose prediction is the margin itself (regressors) or its sigmoid / softmax.
_XGB_REGRESSION_OBJECTIVES = (
    "reg:squarederror", "reg:squaredlogerror", "reg:pseudohubererror", "reg:absoluteerror",
    "reg:linear",
)
_XGB_CLASSIFICATION_OBJECTIVES = ("binary:logistic", "multi:softprob", "multi:softmax")


def xgboost_trees(model, is_classifier, classes=None):
    """(trees, transform) of a fitted xgboost.XGBClassifier or XGBRegressor.

    classes: the labels of the encoded classes 0..n-1 (default: the model's classes_).
    """
    name = type(model).__name__
    missing = model.get_params()["missing"]
    if missing is not None and not (isinstance(missing, numbers.Real) and math.isnan(missing)):
        raise ValueError(
            f"this {name} treats {missing!r} as a missing value (missing={missing!r}): it "
            f"sends such inputs down each node's default branch, which the FHE model cannot do; "
            f"fit with missing=numpy.nan (the default) and clean the data instead (NaN inputs "
            f"are refused)"
        )
    booster = model.get_booster()
    learner = json.loads(booster.save_raw(raw_format="json"))["learner"]
    gradient_booster = learner["gradient_booster"]
    kind = gradient_booster["name"]
    if kind == "gbtree":
        tree_model, weights = gradient_booster["model"], None
    elif kind == "dart":  # trees scaled by their drop weights at prediction time
        tree_model = gradient_booster["gbtree"]["model"]
        weights = [float(w) for w in gradient_booster["weight_drop"]]
    else:
        raise ValueError(
            f"booster={kind!r} is not supported: only tree boosters are ('gbtree', the default, "
            f"or 'dart'); for a linear model use one of torusml.sklearn's linear models (e.g. "
            f"LogisticRegression or LinearRegression)"
        )
    objective = learner["objective"]["name"]
    supported = _XGB_CLASSIFICATION_OBJECTIVES if is_classifier else _XGB_REGRESSION_OBJECTIVES
    if objective not in supported:
        raise ValueError(
            f"objective={objective!r} is not supported by {name}: use one of "
            f"{', '.join(map(repr, supported))}"
        )
    params = learner["learner_model_param"]
    n_columns = max(int(params["num_class"]), int(params.get("num_target", 1)), 1)
    base_score = float(params["base_score"])
    # The base score is given as a prediction; the trees add to its margin.
    if objective == "binary:logistic":
        offset = math.log(base_score / (1.0 - base_score))
    else:
        offset = base_score
    tree_info = tree_model["tree_info"]
    n_trees = len(tree_model["trees"])
    best = booster.attr("best_iteration")  # predict stops there (early stopping)
    if best is not None:
        per_round = n_columns * int(tree_model["gbtree_model_param"]["num_parallel_tree"])
        n_trees = min(n_trees, (int(best) + 1) * per_round)
    trees = []
    for i, tree in enumerate(tree_model["trees"][:n_trees]):
        if any(int(t) != 0 for t in tree["split_type"]):
            raise ValueError(
                f"this {name} has categorical splits (enable_categorical=True on categorical "
                f"columns), which the FHE model does not support: one-hot encode the "
                f"categorical columns (e.g. sklearn.preprocessing.OneHotEncoder) and fit with "
                f"enable_categorical=False"
            )
        left = numpy.asarray(tree["left_children"], dtype=numpy.int64)
        conditions = numpy.asarray(tree["split_conditions"], dtype=numpy.float64)
        is_leaf = left < 0
        value = numpy.zeros((len(left), n_columns))
        # At leaves, split_conditions holds the leaf value.
        value[is_leaf, int(tree_info[i])] = conditions[is_leaf] * (1.0 if weights is None
                                                                   else weights[i])
        trees.append(_tree_dict(tree["split_indices"], conditions, left,
                                tree["right_children"], value))
    if not trees:
        raise ValueError(f"this {name} has no trees: fit it with n_estimators >= 1")
    targets = None
    if is_classifier:
        classes = numpy.asarray(model.classes_ if classes is None else classes)
        targets = [_Target(0, n_columns, classes)]
    transform = _Transform(
        1.0,
        numpy.full(n_columns, offset),
        "logistic" if is_classifier else "identity",
        targets,
        output_is_1d=n_columns == 1,
    )
    return trees, transform


# ---- the fitted state --------------------------------------------------------------------------


class _TreeFittedState:
    """Everything fit produces, never modified once built (fit replaces it as a whole).

    sklearn_model: the fitted wrapped model (scikit-learn's or XGBoost's); bits: (op_inputs,
    op_leaves) it was quantized with; fhe_sum: whether the trees are summed under encryption;
    quantized: the C++ QuantizedTreeEnsemble; transform: its outputs to predictions. Pickled with
    the C++ model (which pickles without its compiled circuit and keys: compile again after
    unpickling).
    """

    __slots__ = ("sklearn_model", "bits", "fhe_sum", "quantized", "transform", "n_features")

    def __init__(self, sklearn_model, bits, fhe_sum, quantized, transform):
        self.sklearn_model = sklearn_model
        self.bits = tuple(bits)
        self.fhe_sum = bool(fhe_sum)
        self.quantized = quantized
        self.transform = transform
        self.n_features = int(quantized.n_features)

    @classmethod
    def build(cls, sklearn_model, X, trees, transform, bits, fhe_sum, split_rule):
        """The state of a fitted model, its input quantizers calibrated on X (float 2-D)."""
        check_n_features(X, int(sklearn_model.n_features_in_))
        quantized = _core.QuantizedTreeEnsemble(
            trees, X, n_bits=bits[0], leaf_bits=bits[1], split_rule=split_rule, fhe_sum=fhe_sum
        )
        return cls(sklearn_model, bits, fhe_sum, quantized, transform)

    @property
    def circuit(self):
        return self.quantized.fhe_circuit

    def fitted_attribute(self, name):
        """n_features_in_, the classes (ours: XGBoost's are encoded), else the wrapped model's."""
        if name == "n_features_in_":
            return self.n_features
        targets = self.transform.targets
        if targets is not None and name in ("classes_", "n_classes_"):
            if name == "classes_":
                values = [t.classes for t in targets]
            else:
                values = [len(t.classes) for t in targets]
            return values[0] if len(values) == 1 else values
        return getattr(self.sklearn_model, name)

    def __reduce__(self):
        return (_TreeFittedState, (self.sklearn_model, self.bits, self.fhe_sum, self.quantized,
                                   self.transform))


# ---- the estimators ----------------------------------------------------------------------------


class BaseTreeModel(BaseQuantizedModel):
    """Base of every tree model.

    Subclasses set ``sklearn_class`` (the wrapped estimator); their constructor, the wrapped
    class's arguments plus ``n_bits`` and ``fhe_sum``, is generated from its signature. Each
    defines ``_read_trees(sklearn_model)`` -> (trees, transform).
    """

    _own_defaults = {"n_bits": DEFAULT_N_BITS, "fhe_sum": False}
    _own_docs = {
        "n_bits": "int, or dict with 'op_inputs' and 'op_leaves'",
        "fhe_sum": "sum the trees under encryption",
    }
    _split_rule = "<="  # scikit-learn: left iff x <= threshold

    def _parse_own_params(self):
        bits = parse_n_bits(self.n_bits, TREE_N_BITS_KEYS, default=DEFAULT_N_BITS)
        if bits[0] > MAX_INPUT_BITS:
            name = "n_bits['op_inputs']" if isinstance(self.n_bits, dict) else "n_bits"
            raise ValueError(
                f"{name} = {bits[0]} is out of range for the inputs of a tree model: use an "
                f"integer between 1 and {MAX_INPUT_BITS} ({DEFAULT_N_BITS} is the default; "
                f"the leaf values may have up to 16 bits: n_bits={{'op_inputs': "
                f"{MAX_INPUT_BITS}, 'op_leaves': {bits[1]}}})"
            )
        if not isinstance(self.fhe_sum, (bool, numpy.bool_)):
            raise ValueError(
                f"fhe_sum must be True (sum the trees under encryption: one output decrypted "
                f"per prediction) or False (sum after decryption), got {self.fhe_sum!r}"
            )
        return bits, bool(self.fhe_sum)

    def _make_state(self, sklearn_model, X, options, **read_options):
        bits, fhe_sum = options
        trees, transform = self._read_trees(sklearn_model, **read_options)
        return _TreeFittedState.build(sklearn_model, X, trees, transform, bits, fhe_sum,
                                      self._split_rule)

    def fit(self, X, y, **fit_params):
        if y is None:  # scikit-learn's phrase
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        return super().fit(X, y, **fit_params)

    @property
    def leaf_quantizers(self):
        """One torusml.UniformQuantizer per output: the leaf values'."""
        return self.quantized_module.leaf_quantizers

    def dequantize_output(self, q_y):
        """The sum over the trees of the leaf values, (n_samples, n_outputs), from the circuit's
        integer outputs (run_integer: (n_samples, n_trees or 1, n_outputs)), before the model's
        transform (average, base score, probabilities)."""
        quantized = self._fitted_state("dequantize_output()").quantized
        return quantized.dequantize_output(numpy.asarray(q_y))

    def _tree_output(self, X, fhe, execute_in_fhe):
        """(state, sum over the trees of the leaf values, (n_samples, n_outputs)): one C++ call.

        The fitted state is returned with the output so that post-processing reads the same one.
        """
        mode = resolve_fhe_mode(fhe, execute_in_fhe)
        state = self._fitted_state(f"predicting (fhe={mode!r})")
        X = self._check_input(state, X)
        self._require_compiled(state, mode)
        return state, state.quantized.predict_raw(X, fhe=mode)


class TreeRegressorBase(RegressorMixin, BaseTreeModel):
    """Regressors: the trees' sum, through the model's transform (average, base score)."""

    def predict(self, X, fhe="disable", execute_in_fhe=False):
        """Predictions of the quantized model (fhe: 'disable', 'simulate' or 'execute')."""
        state, outputs = self._tree_output(X, fhe, execute_in_fhe)
        return state.transform.regression(outputs)


class TreeClassifierBase(ClassifierMixin, BaseTreeModel):
    """Classifiers: probabilities and class labels."""

    def predict(self, X, fhe="disable", execute_in_fhe=False):
        """Class labels (those of classes_, strings included); (n_samples, n_targets) for
        multi-output classification."""
        state, outputs = self._tree_output(X, fhe, execute_in_fhe)
        return state.transform.labels(outputs)

    def predict_proba(self, X, fhe="disable", execute_in_fhe=False):
        """Class probabilities, (n_samples, n_classes) (a list of them, one per target, for
        multi-output classification)."""
        state, outputs = self._tree_output(X, fhe, execute_in_fhe)
        probabilities = state.transform.probabilities(outputs)
        return probabilities[0] if len(probabilities) == 1 else probabilities


def encode_labels(y):
    """(classes, y as indices into classes) for classifiers that want labels 0..n-1 (XGBoost),
    after scikit-learn's checks of a classification target."""
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    return numpy.unique(y, return_inverse=True)
