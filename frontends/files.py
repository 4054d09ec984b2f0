"""Framework model files for the CLI: ``ml2sc-compile model.keras`` works like ``model.onnx``.

The CLI takes a path, and users save what their framework saves: a Keras
``.keras`` (or legacy ``.h5``) file, a whole PyTorch module written with
``torch.save(model, "model.pt")``, a scikit-learn estimator pickled with
``joblib.dump`` or ``pickle``. These are loaded with the framework's own loader
and then go through the same frontend as ``ml2sc.compile(model)``.

PyTorch and pickle files run code when loaded (that is how pickling works);
ml2sc loads them with ``weights_only=False`` on purpose, so compile only files
you trust, as with any pickle.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

from ml2sc.frontends.errors import FrontendError

KERAS_SUFFIXES = (".keras", ".h5")
TORCH_SUFFIXES = (".pt", ".pth")
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
FRAMEWORK_SUFFIXES = KERAS_SUFFIXES + TORCH_SUFFIXES + PICKLE_SUFFIXES


def is_framework_file(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in FRAMEWORK_SUFFIXES


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def load_model_file(path: str | os.PathLike[str]) -> Any:
    """The framework object saved in ``path``; a ``FrontendError`` naming the file if it cannot be read."""
    p = Path(path)
    suffix = p.suffix.lower()
    if not p.is_file():
        raise FrontendError(f"model file '{p}' not found")
    try:
        if suffix in KERAS_SUFFIXES:
            from ml2sc.frontends.keras_frontend import _keras

            if suffix == ".keras" and not zipfile.is_zipfile(p):
                raise FrontendError(f"cannot load model file '{p}': not a .keras archive (a zip written by model.save)")

            return _keras().saving.load_model(str(p), compile=False)
        if suffix in TORCH_SUFFIXES:
            import torch

            model = torch.load(str(p), map_location="cpu", weights_only=False)
            if isinstance(model, dict):
                raise FrontendError(
                    f"'{p}' holds a state_dict, not a model: save the module itself (torch.save(model, path)) "
                    "or call ml2sc.compile(model) from the training script"
                )
            return model
        if suffix == ".joblib":
            import joblib

            return joblib.load(str(p))
        with p.open("rb") as f:
            return pickle.load(f)  # noqa: S301 - the user's own model file, documented above
    except FrontendError:
        raise
    except Exception as e:  # each loader raises its own types; the cause stays chained
        raise FrontendError(f"cannot load model file '{p}': {_first_line(e)}") from e
