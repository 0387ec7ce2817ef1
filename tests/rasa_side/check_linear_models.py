"""Checks of bot/nlu/softmax.py, bot/nlu/linear_intents.py and bot/nlu/response_selection.py, run inside the Rasa
virtualenv by tests/integration/test_rasa_side.py; each check raises AssertionError with a message, and the script
prints "ok" when all pass."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack
from scipy.sparse import random as sparse_random
from sklearn.linear_model import LogisticRegression

from bot.nlu.linear_intents import LinearIntentClassifier
from bot.nlu.response_selection import LinearResponseSelector
from bot.nlu.softmax import SoftmaxModel, features, lbfgs


def problem(seed: int, n: int = 240, classes: int = 5) -> tuple[csr_matrix, np.ndarray, np.ndarray]:
    """Sparse counts and a dense block that both carry some signal about unbalanced labels."""
    rng = np.random.default_rng(seed)
    y = rng.choice(classes, size=n, p=np.linspace(1, 3, classes) / np.linspace(1, 3, classes).sum())
    sparse = sparse_random(n, 60, density=0.08, random_state=seed, format="csr") * 3
    sparse = (sparse + csr_matrix((np.ones(n), (np.arange(n), y * 3)), shape=(n, 60))).tocsr()
    dense = rng.normal(size=(n, 8)) + np.eye(classes, 8)[y] * 1.5
    return sparse, dense, y


def lbfgs_finds_the_minimum_of_a_quadratic() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(30, 30))
    h = a @ a.T + np.eye(30)
    b = rng.normal(size=30)
    x, steps, converged = lbfgs(lambda x: (0.5 * x @ h @ x - b @ x, h @ x - b), np.zeros(30), 500, 1e-8)
    assert converged and steps < 500, (steps, converged)
    assert np.allclose(x, np.linalg.solve(h, b), atol=1e-4)  # stopped by the relative decrease, as L-BFGS-B


def a_fit_stops_where_its_loss_stops_falling() -> None:
    """The plateau rule ends a fit early (fewer steps than the per-step rules take) at a model that predicts as
    the fully converged one does, and a looser plateau stops earlier still."""
    sparse, dense, y = problem(11, n=600, classes=6)
    strict, strict_steps = SoftmaxModel.fit(sparse, dense, y, 6, 1.0, 2000, 1e-9, plateau=0.0)
    relaxed, relaxed_steps = SoftmaxModel.fit(sparse, dense, y, 6, 1.0, 2000, 1e-9, plateau=1e-5)
    loose, loose_steps = SoftmaxModel.fit(sparse, dense, y, 6, 1.0, 2000, 1e-9, plateau=1e-2)
    assert loose_steps < relaxed_steps < strict_steps, (loose_steps, relaxed_steps, strict_steps)
    exact, early = strict.probabilities(sparse, dense), relaxed.probabilities(sparse, dense)
    assert (exact.argmax(1) == early.argmax(1)).mean() > 0.99
    assert float(np.abs(exact - early).max()) < 0.05


def the_same_model_as_scikit_learns_logistic_regression() -> None:
    for seed, c in ((3, 1.0), (4, 10.0)):
        sparse, dense, y = problem(seed)
        model, _ = SoftmaxModel.fit(sparse, dense, y, 5, c, 1000, 1e-6)
        reference = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, tol=1e-8).fit(
            hstack([sparse, csr_matrix(dense)]).tocsr(), y
        )
        ours = model.probabilities(sparse, dense)
        theirs = reference.predict_proba(hstack([sparse, csr_matrix(dense)]).tocsr())
        assert np.allclose(ours.sum(1), 1.0)
        worst = float(np.abs(ours - theirs).max())
        assert worst < 2e-3, f"C={c}: probabilities differ from scikit-learn's by up to {worst}"
        assert (ours.argmax(1) == theirs.argmax(1)).mean() > 0.99


def message(text: str, sparse: np.ndarray, dense: np.ndarray, **data: object) -> Message:
    m = Message(data={TEXT: text, **data})
    m.add_features(Features(csr_matrix(sparse[None, :]), "sentence", TEXT, "counts"))
    m.add_features(Features(dense[None, :], "sentence", TEXT, "embedding"))
    return m


def rows_stay_off_the_message_data() -> None:
    """The classifiers' cached rows do not change the message's fingerprint (Rasa's training hashes its data before
    every component) and follow features added after them."""
    sparse, dense, _ = problem(5)
    m = message("t", sparse[0].toarray()[0], dense[0])
    before = m.fingerprint()
    first_sparse, first_dense = features([m])
    assert m.fingerprint() == before and m.data.keys() == {TEXT}
    assert np.allclose(first_sparse.toarray(), sparse[0].toarray()) and np.allclose(first_dense, dense[0])
    m.add_features(Features(dense[1][None, :], "sentence", TEXT, "embedding"))  # Rasa combines a second block
    assert np.allclose(features([m])[1], np.concatenate([dense[0], dense[1]])[None, :])


def rows_are_rasas_sentence_features() -> None:
    """The classifiers' rows equal the sentence part of Rasa's get_sparse_features and get_dense_features, with
    token-level features, several featurizers of each kind and both sparse formats on the message."""
    from scipy.sparse import coo_matrix

    rng = np.random.default_rng(17)
    for seed in range(20):
        sparse, dense, _ = problem(seed)
        m = Message(data={TEXT: "a b c"})
        m.add_features(Features(coo_matrix(sparse[:3]), "sequence", TEXT, "words"))
        m.add_features(Features(coo_matrix(sparse[seed % 5]), "sentence", TEXT, "regex"))
        m.add_features(Features(rng.normal(size=(3, 8)), "sequence", TEXT, "embedding"))
        m.add_features(Features(csr_matrix(sparse[5, :20]), "sentence", TEXT, "chars"))
        m.add_features(Features(dense[0][None, :], "sentence", TEXT, "embedding"))
        m.add_features(Features(coo_matrix(sparse[6]), "sentence", "action_name", "words"))  # another attribute
        m.add_features(Features(dense[1][None, :4], "sentence", TEXT, "more"))
        ours_sparse, ours_dense = features([m])
        theirs_sparse = m.get_sparse_features(attribute=TEXT)[1].features
        theirs_dense = m.get_dense_features(attribute=TEXT)[1].features
        assert ours_sparse.shape == theirs_sparse.shape and np.allclose(ours_sparse.toarray(), theirs_sparse.toarray())
        assert np.allclose(ours_dense, theirs_dense.reshape(1, -1))


def features_fingerprints_come_from_the_arrays() -> None:
    """Loading the NLU components puts bot/rasa_patches.py's fingerprint of features in place (so `rasa train` has
    it); equal features get equal fingerprints whatever the sparse format, a changed value another one."""
    import bot.nlu  # noqa: F401 - what Rasa's training imports first

    assert Features.fingerprint.__module__ == "bot.rasa_patches", Features.fingerprint  # before anything else loads it
    sparse, dense, _ = problem(13)
    row = sparse[:3]

    def fingerprint(matrix: object, attribute: str = TEXT) -> str:
        return Features(matrix, "sequence", attribute, "counts").fingerprint()

    assert fingerprint(row) == fingerprint(row.tocoo()) == fingerprint(row.tocsc())
    changed = row.copy()
    changed.data[0] += 1.0
    assert fingerprint(changed) != fingerprint(row)
    assert fingerprint(row, "action_name") != fingerprint(row)
    assert fingerprint(dense[:2].copy()) == fingerprint(dense[:2].copy())
    assert fingerprint(dense[:2]) != fingerprint(dense[1:3]) != fingerprint(row[:2].toarray())


def classifier_trains_saves_loads_and_ranks(storage_dir: Path) -> None:
    sparse, dense, y = problem(7)
    names = ["greet", "order_status", "refund", "thank", "faq"]
    examples = [message(f"t{i}", sparse[i].toarray()[0], dense[i], intent=names[label]) for i, label in enumerate(y)]
    storage, resource = LocalModelStorage(storage_dir), Resource("intents")
    trained = LinearIntentClassifier.create({"ranking_length": 3}, storage, resource, None)  # type: ignore[arg-type]
    trained.train(TrainingData(training_examples=examples))
    loaded = LinearIntentClassifier.load({"ranking_length": 3}, storage, resource, None)  # type: ignore[arg-type]
    fresh = [message(m.get(TEXT), sparse[i].toarray()[0], dense[i]) for i, m in enumerate(examples)]
    loaded.process(fresh)
    predicted = [m.get("intent")["name"] for m in fresh]
    accuracy = np.mean([p == names[label] for p, label in zip(predicted, y, strict=True)])
    assert accuracy > 0.9, accuracy
    for m in fresh:
        ranking = m.get("intent_ranking")
        assert len(ranking) == 3 and ranking[0] == m.get("intent")
        assert ranking[0]["confidence"] >= ranking[1]["confidence"] >= ranking[2]["confidence"]
    # a message without features gets the biases' answer, not an error
    bare = Message(data={TEXT: "?"})
    loaded.process([bare])
    assert bare.get("intent")["name"] in names
    untrained = LinearIntentClassifier.load({}, LocalModelStorage(storage_dir / "none"), Resource("x"), None)  # type: ignore[arg-type]
    untouched = Message(data={TEXT: "hi"})
    untrained.process([untouched])
    assert untouched.get("intent") is None


def selector_picks_the_answer_within_the_retrieval_intent(storage_dir: Path) -> None:
    sparse, dense, y = problem(9, classes=3)
    keys = ["faq/opening_hours", "faq/returns", "faq/delivery"]
    examples = [
        message(f"q{i}", sparse[i].toarray()[0], dense[i], intent="faq", intent_response_key=keys[label])
        for i, label in enumerate(y)
    ]
    responses = {f"utter_{k}": [{"text": f"answer to {k}"}] for k in keys}
    storage, resource = LocalModelStorage(storage_dir), Resource("faq")
    config = {"retrieval_intent": "faq"}
    selector = LinearResponseSelector.create(config, storage, resource, None)  # type: ignore[arg-type]
    selector.train(TrainingData(training_examples=examples, responses=responses))
    loaded = LinearResponseSelector.load(config, storage, resource, None)  # type: ignore[arg-type]
    fresh = [message(m.get(TEXT), sparse[i].toarray()[0], dense[i]) for i, m in enumerate(examples)]
    loaded.process(fresh)
    right = 0
    for m, label in zip(fresh, y, strict=True):
        response = m.get("response_selector")["faq"]["response"]
        right += response["intent_response_key"] == keys[label]
        assert response["utter_action"] == f"utter_{response['intent_response_key']}"
        assert response["responses"] == responses[response["utter_action"]]
    assert right / len(fresh) > 0.9, right / len(fresh)


if __name__ == "__main__":
    lbfgs_finds_the_minimum_of_a_quadratic()
    the_same_model_as_scikit_learns_logistic_regression()
    a_fit_stops_where_its_loss_stops_falling()
    rows_stay_off_the_message_data()
    rows_are_rasas_sentence_features()
    features_fingerprints_come_from_the_arrays()
    with tempfile.TemporaryDirectory() as directory:
        for name in ("a", "b"):
            (Path(directory) / name).mkdir()
        classifier_trains_saves_loads_and_ranks(Path(directory) / "a")
        selector_picks_the_answer_within_the_retrieval_intent(Path(directory) / "b")
    print("ok")
