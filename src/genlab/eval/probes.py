"""How much a code knows about the labels: linear and nearest-neighbour probes.

A logistic regression and a kNN classifier are fitted on codes of the training split and
scored on the test split. The same probes on PCA with the code's dimension and on the
raw inputs are the baselines: a learned code is worth having when it beats PCA of the
same size.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from genlab.models.inference import encode_all

KNN_NEIGHBOURS = 5
LOGISTIC_ITERATIONS = 1000


def probe_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                   neighbours: int = KNN_NEIGHBOURS, max_iter: int = LOGISTIC_ITERATIONS) -> dict[str, float]:
    """Test accuracy of a standardised logistic regression and of a kNN classifier."""
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the cap on iterations is part of the protocol
        linear.fit(train_x, train_y)
    knn = KNeighborsClassifier(n_neighbors=neighbours).fit(train_x, train_y)
    return {"logistic": float(linear.score(test_x, test_y)), "knn": float(knn.score(test_x, test_y))}


def representation_metrics(model, train_x, train_y, test_x, test_y, *, baselines: bool = True,
                           neighbours: int = KNN_NEIGHBOURS, seed: int = 0) -> dict:
    """Probe accuracies of the model's codes and, with `baselines`, of PCA of the same size and raw inputs.

    A conditional model (cvae) is given the true labels to encode with, as q(z|x,y) needs
    them; its codes then say little about the label, which is what the probe shows.
    """
    conditional = getattr(model, "conditional", False)
    codes_train = encode_all(model, train_x, train_y if conditional else None).numpy()
    codes_test = encode_all(model, test_x, test_y if conditional else None).numpy()
    y_train, y_test = np.asarray(train_y), np.asarray(test_y)
    result = {"code_dim": int(codes_train.shape[1]), "code": probe_accuracy(codes_train, y_train, codes_test, y_test, neighbours)}
    if baselines:
        raw_train, raw_test = train_x.flatten(1).numpy(), test_x.flatten(1).numpy()
        pca = PCA(n_components=min(codes_train.shape[1], raw_train.shape[1]), random_state=seed).fit(raw_train)
        result["pca"] = probe_accuracy(pca.transform(raw_train), y_train, pca.transform(raw_test), y_test, neighbours)
        result["raw"] = probe_accuracy(raw_train, y_train, raw_test, y_test, neighbours)
    return result
