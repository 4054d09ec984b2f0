"""Keras 3 to the chain in one call: train an MLP on iris, compile the Keras model itself, run it on chain.

``ml2sc.compile(model)`` exports the Keras model (TensorFlow backend) to ONNX,
compiles it and returns a contract ready to deploy.
Run: .venv/bin/python examples/keras_mlp.py
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402 - after the backend is chosen
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402

import ml2sc  # noqa: E402


def main() -> None:
    iris = load_iris()
    x = ((iris.data - iris.data.mean(0)) / iris.data.std(0)).astype(np.float32)
    y = iris.target

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((4,)),
        layers.Dense(8, activation="tanh"),
        layers.Dense(3, activation="softmax"),
    ], name="iris_net")  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=40, batch_size=16, verbose=0)

    compiled = ml2sc.compile(model, backend="prbmath")
    deployed = compiled.deploy("embedded")
    rows = x[::10]
    on_chain = deployed.predict(rows)["output"]
    local = model.predict(rows, verbose=0)

    gas = deployed.gas.summary()
    print(f"contract {compiled.program.contract_name}: deploy {gas['deploy_gas']:,} gas, "
          f"inference {gas['inference_gas_mean']:,.0f} gas per row")
    print(f"on-chain class == Keras class on {(on_chain.argmax(1) == local.argmax(1)).sum()}/{len(rows)} rows; "
          f"max |probability difference| {np.abs(on_chain - local).max():.1e}")


if __name__ == "__main__":
    main()
