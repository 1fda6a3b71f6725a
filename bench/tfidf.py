"""The benchmarks' bag-of-n-grams baseline: TF-IDF features and logistic
regression (scikit-learn), C chosen on the dev set."""
import time
from typing import Dict, Sequence, Tuple

Split = Tuple[Sequence[str], Sequence[str]]  # (texts, labels)


def tfidf_classifier(train: Split, dev: Split, tests: Dict[str, Split], seed: int = 1,
                     char_ngrams: bool = False, cs: Sequence[float] = (0.5, 1.0, 2.0, 4.0, 8.0)) -> dict:
    """Word 1-2 grams (and, with ``char_ngrams``, character 2-5 grams within words, which
    carry over between languages that share a script); fit on ``train`` for each C in
    ``cs``, keep the best on ``dev``.  Returns C, dev accuracy, per test set accuracy and
    macro-F1 (%), the fit's seconds and the parameter count."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline, make_union

    best = None
    for c in cs:
        t0 = time.time()
        features = [TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)]
        if char_ngrams:
            features.append(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True))
        model = make_pipeline(make_union(*features), LogisticRegression(C=c, max_iter=3000, random_state=seed))
        model.fit(*train)
        fit_s = time.time() - t0
        score = accuracy_score(dev[1], model.predict(dev[0]))
        if best is None or score > best[0]:
            best = (score, c, model, fit_s)
    dev_acc, c, model, fit_s = best
    clf = model.steps[-1][1]
    out = {"C": c, "valid_accuracy": round(100 * dev_acc, 2), "train_wall_s": round(fit_s, 1),
           "train_sentences_per_s": round(len(train[0]) / max(fit_s, 1e-9), 1),
           "params": int(clf.coef_.size + clf.intercept_.size), "tests": {}}
    for name, (texts, gold) in tests.items():
        pred = model.predict(texts)
        out["tests"][name] = {"accuracy": round(100 * accuracy_score(gold, pred), 2),
                              "macro_f1": round(100 * f1_score(gold, pred, average="macro"), 2)}
    return out
