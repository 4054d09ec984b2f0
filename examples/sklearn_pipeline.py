"""scikit-learn to the chain in one call: a StandardScaler + MLPClassifier pipeline on breast cancer.

``ml2sc.compile(pipeline)`` exports the fitted pipeline (scaler folded into the
first layer), and the contract returns the classifier's own labels and its
probabilities.
Run: .venv/bin/python examples/sklearn_pipeline.py
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import ml2sc


def main() -> None:
    data = load_breast_cancer()
    x = data.data.astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, data.target, test_size=0.2, random_state=0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline = make_pipeline(StandardScaler(), MLPClassifier((8,), activation="relu", max_iter=300, random_state=0))
        pipeline.fit(x_train, y_train)

    compiled = ml2sc.compile(pipeline, backend="prbmath", name="cancer_pipeline")
    deployed = compiled.deploy("embedded")
    rows = x_test[:25]
    out = deployed.predict(rows)  # {"label": int64 labels, "probabilities": float32}

    gas = deployed.gas.summary()
    print(f"contract {compiled.program.contract_name}: deploy {gas['deploy_gas']:,} gas, "
          f"inference {gas['inference_gas_mean']:,.0f} gas per row")
    agree = (out["label"] == pipeline.predict(rows)).sum()
    print(f"on-chain label == scikit-learn label on {agree}/{len(rows)} rows; "
          f"max |probability difference| {np.abs(out['probabilities'] - pipeline.predict_proba(rows)).max():.1e}; "
          f"accuracy {np.mean(out['label'] == y_test[:25]):.0%}")


if __name__ == "__main__":
    main()
