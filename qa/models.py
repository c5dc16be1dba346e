"""Small learned scorers, stored as JSON and run in numpy (microseconds for a few dozen rows).

Trained by ``python -m eval.train`` (scikit-learn) on public SQuAD articles only; a model file
records its feature names, how it was fitted and what it scored on held-out articles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import QAError

MODEL_DIR = Path(__file__).parent / "models"


@dataclass
class ScoringModel:
    """Standardise, then a multi-layer perceptron (ReLU) or a logistic regression (no layers)."""

    features: list[str]
    mean: np.ndarray
    scale: np.ndarray
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)
    _columns: np.ndarray | None = field(default=None, init=False, repr=False)

    def bind(self, names: tuple[str, ...] | list[str]) -> ScoringModel:
        """Check the model against the feature columns the code produces, by name: every
        feature the model was fitted on must be among ``names``; :meth:`predict` then takes
        matrices whose columns are ``names`` in that order and picks the model's own."""
        missing = [f for f in self.features if f not in names]
        if missing:
            raise QAError(
                f"model {self.info.get('name', '')!r} needs features the code does not produce: "
                f"{', '.join(missing)}; run `python -m eval.train`"
            )
        self._columns = np.asarray([list(names).index(f) for f in self.features], dtype=np.int64)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probability of the positive class for each row of ``x`` (columns as bound by
        :meth:`bind`, else the model's own feature order)."""
        if len(x) == 0:
            return np.zeros(0, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)
        if self._columns is not None:
            x = x[:, self._columns]
        h = (x - self.mean) / self.scale
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            h = np.maximum(h @ w + b, 0.0)
        logit = (h @ self.weights[-1] + self.biases[-1]).reshape(-1)
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -30, 30)))

    def to_json(self) -> str:
        """The model as JSON (features, weights, scaling and the info it was trained with)."""
        return json.dumps(
            {
                "features": self.features,
                "mean": self.mean.tolist(),
                "scale": self.scale.tolist(),
                "weights": [w.tolist() for w in self.weights],
                "biases": [b.tolist() for b in self.biases],
                "info": self.info,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> ScoringModel:
        """A model from the JSON :meth:`to_json` wrote."""
        d = json.loads(text)
        return cls(
            list(d["features"]),
            np.asarray(d["mean"]),
            np.asarray(d["scale"]),
            [np.asarray(w, dtype=np.float64) for w in d["weights"]],
            [np.asarray(b, dtype=np.float64) for b in d["biases"]],
            d.get("info", {}),
        )

    @classmethod
    def from_sklearn(cls, scaler: Any, clf: Any, features: list[str], info: dict) -> ScoringModel:
        """A model from a fitted scikit-learn scaler and classifier (logistic regression or MLP):
        the weights are copied so scoring needs only numpy.
        """
        scale = np.where(scaler.scale_ == 0, 1.0, scaler.scale_)
        if hasattr(clf, "coefs_"):  # MLPClassifier
            weights, biases = list(clf.coefs_), list(clf.intercepts_)
        else:  # LogisticRegression
            weights, biases = [clf.coef_.T.copy()], [clf.intercept_.copy()]
        return cls(list(features), scaler.mean_.copy(), scale, weights, biases, info)


def load_model(name: str, features: tuple[str, ...] | list[str], directory: Path = MODEL_DIR) -> ScoringModel:
    """The model ``name`` from ``directory``, bound to the named feature columns the code
    produces (an error names any feature the model needs and the code does not make)."""
    path = directory / f"{name}.json"
    try:
        model = ScoringModel.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QAError(f"model file {path} is missing; run `python -m eval.train`") from None
    model.info.setdefault("name", name)
    return model.bind(features)
