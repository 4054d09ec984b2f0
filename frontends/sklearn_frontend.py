"""scikit-learn estimator or pipeline -> ONNX, for ``ml2sc.compile(estimator)``.

The estimator (and each pipeline step) is checked before exporting so a tree
model fails naming ``RandomForestClassifier``, not ``TreeEnsembleClassifier``.
skl2onnx exports at the opsets the importer reads (21, ai.onnx.ml 1), with
ZipMap off so probabilities stay a float tensor; outputs keep skl2onnx's names
(``label`` and ``probabilities`` for classifiers, ``variable`` for regressors).
Labels come back as the classifier's own integer class labels; string labels
are refused up front, since a contract returns integers. scikit-learn and
skl2onnx are imported only when this is called.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ml2sc.frontends.errors import FrontendError
from ml2sc.frontends.normalize import normalize

if TYPE_CHECKING:
    import onnx

MODELS = (
    "MLPClassifier", "MLPRegressor", "LogisticRegression", "LinearRegression", "Ridge",
    "RidgeClassifier", "Lasso", "ElasticNet", "LinearSVC", "LinearSVR", "SGDRegressor",
)  # fmt: skip
SCALERS = ("StandardScaler", "MinMaxScaler")
_SUPPORTED_TEXT = f"{', '.join(MODELS)}, optionally in a Pipeline after {' / '.join(SCALERS)}"
STRING_LABELS = "train on integer labels (e.g. sklearn.preprocessing.LabelEncoder) and map them to names outside the contract"


def _kind(est: Any) -> str:
    """The class name if the class is scikit-learn's own; a subclass from elsewhere is not trusted."""
    cls = type(est)
    return cls.__name__ if cls.__module__.startswith("sklearn.") else f"{cls.__module__}.{cls.__name__}"


def _steps(estimator: Any) -> list[tuple[str, Any]]:
    """(step name, estimator) in order, nested pipelines flattened, 'passthrough' steps dropped."""
    if _kind(estimator) != "Pipeline":
        return [("", estimator)]
    steps: list[tuple[str, Any]] = []
    for step_name, step in estimator.steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        steps += [(f"{step_name}.{inner}" if inner else step_name, est) for inner, est in _steps(step)]
    return steps


def _unsupported(kind: str, step: str) -> FrontendError:
    where = f" (pipeline step '{step}')" if step else ""
    return FrontendError(f"unsupported scikit-learn estimator '{kind}'{where}: ml2sc compiles MLPs and linear models: {_SUPPORTED_TEXT}")


def check_sklearn_estimator(estimator: Any) -> Any:
    """Check every step; return the final model. Raises ``FrontendError`` naming the estimator at fault."""
    steps = _steps(estimator)
    if not steps:
        raise FrontendError("the scikit-learn pipeline has no steps to compile")
    *scalers, (last_name, last) = steps
    for step, est in scalers:
        kind = _kind(est)
        if kind in MODELS:
            raise FrontendError(f"scikit-learn model '{kind}' (pipeline step '{step}') must be the last step of the pipeline")
        if kind not in SCALERS:
            raise _unsupported(kind, step)
    kind = _kind(last)
    if kind in SCALERS:
        raise FrontendError(f"the scikit-learn pipeline ends in '{kind}' (step '{last_name}'), not in a model: ml2sc compiles {', '.join(MODELS)}")
    if kind not in MODELS:
        raise _unsupported(kind, last_name)
    return last


def _check_fitted(estimator: Any) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError:
        raise FrontendError(f"the scikit-learn {_kind(estimator)} is not fitted: call fit() before compiling it") from None


def _check_labels(model: Any) -> None:
    """Integer (or bool, or integral float) class labels only: the contract returns int256 labels."""
    if getattr(getattr(model, "_label_binarizer", None), "y_type_", "") == "multilabel-indicator":
        raise FrontendError(f"scikit-learn {_kind(model)} was trained on multi-label targets; ml2sc compiles single-label classifiers")
    classes = getattr(model, "classes_", None)
    if classes is None:
        return
    classes = np.asarray(classes)
    integral = classes.dtype.kind in "iub" or (classes.dtype.kind == "f" and bool(np.all(np.mod(classes, 1) == 0)))
    if not integral:
        shown = ", ".join(repr(c) for c in classes.tolist()[:4]) + (", ..." if len(classes) > 4 else "")
        raise FrontendError(f"scikit-learn {_kind(model)} has class labels [{shown}] ({classes.dtype}); ml2sc returns integer labels: {STRING_LABELS}")


def n_features_of(estimator: Any) -> int:
    """The input width a fitted estimator or pipeline records in ``n_features_in_``."""
    n = getattr(estimator, "n_features_in_", None)
    if n is None:
        raise FrontendError(f"cannot tell the input width of this {_kind(estimator)}: pass n_features")
    return int(n)


def _select_columns_as_matmul(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Rewrite ``ArrayFeatureExtractor(scores, constant columns)`` as ``MatMul(scores, one-hot)``.

    skl2onnx picks the positive-class score of a binary linear classifier without
    probabilities (LinearSVC, RidgeClassifier, ...) that way. The importer reads
    ArrayFeatureExtractor only as a label-table lookup; a one-hot MatMul selects
    the same column exactly (products by 1 and 0) and lowers to a small gemm.
    """
    import onnx
    from onnx import numpy_helper

    graph = proto.graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    widths: dict[str, int] = {}
    for node in graph.node:  # LinearClassifier scores: one column per intercept
        if node.op_type == "LinearClassifier" and len(node.output) > 1:
            intercepts = next((a.floats for a in node.attribute if a.name == "intercepts"), [])
            widths[node.output[1]] = len(intercepts)
    for node in graph.node:
        data, index = (list(node.input) + ["", ""])[:2]
        if node.op_type != "ArrayFeatureExtractor" or data in constants or index not in constants or data not in widths:
            continue
        columns = np.asarray(constants[index], dtype=np.int64).reshape(-1)
        select = np.zeros((widths[data], columns.size), dtype=np.float32)
        select[columns, np.arange(columns.size)] = 1.0
        select_name = f"{node.output[0]}_select"
        graph.initializer.append(numpy_helper.from_array(select, select_name))
        node.op_type, node.domain = "MatMul", ""
        node.input[:] = [data, select_name]
        for out in graph.output:  # skl2onnx declares [N, 2] for RidgeClassifier's one selected column
            dims = out.type.tensor_type.shape.dim
            if out.name == node.output[0] and len(dims) == 2:
                dims[1].Clear()
                dims[1].dim_value = columns.size
    used = {name for node in graph.node for name in node.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if not any(o.domain in ("", "ai.onnx") for o in proto.opset_import):
        proto.opset_import.append(onnx.helper.make_opsetid("", 21))
    return proto


def _classifier_options(final: Any) -> dict[str, Any]:
    """skl2onnx options for the final classifier: ZipMap off, so probabilities stay a float tensor.

    LinearSVC has no ZipMap and refuses the option; it still needs an entry, or
    skl2onnx's pipeline parser adds ``zipmap=True`` for it and then fails. ``nocl``
    (False: keep the class labels) is its default.
    """
    return {"nocl": False} if _kind(final) == "LinearSVC" else {"zipmap": False}


def export_sklearn(
    estimator: Any,
    n_features: int | None = None,
    *,
    name: str | None = None,
    strict: bool = True,
) -> onnx.ModelProto:
    """Export a fitted scikit-learn MLP, linear model or scaler pipeline to an ONNX model ml2sc compiles.

    ``n_features`` defaults to the estimator's ``n_features_in_``. Outputs:
    ``label`` (the original integer class labels) and ``probabilities`` for
    classifiers (decision scores for those without predict_proba), ``variable``
    for regressors. ``strict=False`` skips the estimator check.
    """
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.base import is_classifier

    final = check_sklearn_estimator(estimator) if strict else _steps(estimator)[-1][1]
    _check_fitted(estimator)
    _check_labels(final)
    width = n_features if n_features is not None else n_features_of(estimator)
    initial_types = [("x", FloatTensorType([None, width]))]
    opsets = {"": 21, "ai.onnx.ml": 1}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            options = {id(final): _classifier_options(final)} if is_classifier(final) else None
            proto = to_onnx(estimator, initial_types=initial_types, options=options, target_opset=opsets)
    except Exception as e:  # skl2onnx raises many types; the cause stays chained
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise FrontendError(f"skl2onnx could not export {_kind(final)}: {first}") from e
    return normalize(_select_columns_as_matmul(proto), name or _kind(final))
