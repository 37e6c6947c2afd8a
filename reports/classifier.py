"""Report classifier: proposes a subcategory for a citizen's description, with a confidence.

Features are TF-IDF over jieba words (weighted 0.5) and over character 1-3-grams; the
classifier is a multinomial logistic regression, so confidences are its probabilities. The model is
trained from ``reports/data/labelled_reports.csv`` (written by this project, see LABELLED_DATA.md)
and stored under ``{INSTANCE_DIR}/models``; it remembers the CSV's sha256 and is retrained when the
CSV changes. Below ``CONFIDENCE_THRESHOLD`` a report goes to a dispatcher's triage queue.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import pickle
import re
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import click
import jieba
import numpy as np
import sklearn
from flask import Flask, current_app
from flask.cli import with_appcontext
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import FeatureUnion, Pipeline

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
CSV_PATH = DATA_DIR / "labelled_reports.csv"
USERDICT_PATH = DATA_DIR / "classifier_userdict.txt"
MODEL_RELPATH = Path("models") / "report_classifier.pkl"
EXTENSION_KEY = "report_classifier"
# Subcategories never proposed: "other" is what a low confidence means.
EXCLUDED_CODES = frozenset({"SJ0699"})
# Temperature scaling of the confidences and the triage threshold on that scale, both chosen on
# 5-fold out-of-fold predictions of the training data (bench/classifier_calibrate.py), never on
# the blind set: T = 0.45 brings the expected calibration error from 0.36 to 0.03 there (0.30 to
# 0.013 on the blind set: a confidence of 0.85 is right about 85% of the time), and at 0.88 the
# reports routed automatically are right about 95.6% of the time out of fold (98.9% on the blind
# set, routing 83.6% of it); the rest, and off-topic text, go to the triage queue.
TEMPERATURE = 0.45
CONFIDENCE_THRESHOLD = 0.88
# Regularisation chosen by cross-validation on the training part of the fixed split.
DEFAULT_C = 30.0
# jieba words count half as much as character n-grams (words alone are weaker here).
WORD_WEIGHT = 0.5

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
_tokenizer: jieba.Tokenizer | None = None
_tokenizer_lock = threading.Lock()
_app_lock = threading.Lock()


@dataclass(frozen=True)
class Suggestion:
    """A proposed subcategory code and the model's confidence in it (0..1)."""

    code: str
    confidence: float


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, digits folded to 0, runs of spaces collapsed."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = re.sub(r"\d+", "0", text)
    return re.sub(r"\s+", " ", text).strip()


def normalize_chars(text: str) -> str:
    """``normalize`` with punctuation turned into spaces, for character n-grams."""
    return _PUNCT.sub(" ", normalize(text))


def _jieba() -> jieba.Tokenizer:
    """A private jieba tokenizer (bundled dictionary plus the domain words), built once."""
    global _tokenizer
    with _tokenizer_lock:
        if _tokenizer is None:
            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.tmp_dir = tempfile.gettempdir()
            tokenizer.initialize()
            tokenizer.load_userdict(str(USERDICT_PATH))
            _tokenizer = tokenizer
    return _tokenizer


def tokenize(text: str) -> list[str]:
    """jieba words of a normalized text, punctuation and spaces dropped."""
    return [w for w in _jieba().lcut(text) if w.strip() and not _PUNCT.fullmatch(w)]


def build_pipeline(c: float = DEFAULT_C) -> Pipeline:
    """The untrained pipeline: word and character TF-IDF, then logistic regression."""
    words = TfidfVectorizer(
        preprocessor=normalize,
        tokenizer=tokenize,
        token_pattern=None,
        lowercase=False,
        ngram_range=(1, 1),
        sublinear_tf=True,
    )
    chars = TfidfVectorizer(
        preprocessor=normalize_chars,
        analyzer="char",
        ngram_range=(1, 3),
        sublinear_tf=True,
    )
    features = FeatureUnion(
        [("words", words), ("chars", chars)],
        transformer_weights={"words": WORD_WEIGHT, "chars": 1.0},
    )
    classifier = LogisticRegression(C=c, max_iter=3000)
    return Pipeline([("features", features), ("classifier", classifier)])


def read_examples(csv_path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """(texts, codes) from a labelled CSV with columns text,code; excluded codes skipped."""
    texts: list[str] = []
    codes: list[str] = []
    with open(csv_path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text, code = (row.get("text") or "").strip(), (row.get("code") or "").strip()
            if text and code and code not in EXCLUDED_CODES:
                texts.append(text)
                codes.append(code)
    return texts, codes


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def temperature_scale(proba: np.ndarray, t: float) -> np.ndarray:
    """Probabilities with their log divided by ``t`` and renormalised: the order of the classes
    is kept; t < 1 makes the confidences sharper (ours are under-confident with 142 classes)."""
    if t == 1.0:
        return proba
    logits = np.log(np.clip(proba, 1e-300, 1.0)) / t
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


@dataclass
class Model:
    """A trained classifier and where it came from."""

    pipeline: Pipeline
    csv_sha256: str
    n_examples: int
    sklearn_version: str = sklearn.__version__
    trained_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def codes(self) -> list[str]:
        """The subcategory codes the model can propose."""
        return [str(c) for c in self.pipeline.classes_]

    def predict_many(self, texts: list[str], k: int = 3) -> list[list[Suggestion]]:
        """The k best suggestions for each text, best first."""
        if not texts:
            return []
        proba = temperature_scale(self.pipeline.predict_proba([t or "" for t in texts]),
                                  TEMPERATURE)  # fmt: skip
        classes = self.pipeline.classes_
        k = max(1, min(k, len(classes)))
        best = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        return [
            [Suggestion(str(classes[j]), round(float(row[j]), 4)) for j in idx]
            for row, idx in zip(proba, best, strict=True)
        ]

    def predict(self, text: str, k: int = 3) -> list[Suggestion]:
        """The k best suggestions for one text, best first."""
        return self.predict_many([text], k)[0]

    def save(self, path: str | os.PathLike) -> None:
        """Write the model atomically (a temporary file, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; the web workers may run as another user
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def fit(texts: list[str], codes: list[str], csv_sha256: str = "", c: float = DEFAULT_C) -> Model:
    """Train a model on in-memory examples."""
    pipeline = build_pipeline(c)
    pipeline.fit(texts, codes)
    return Model(pipeline=pipeline, csv_sha256=csv_sha256, n_examples=len(texts))


def train(csv_path: str | os.PathLike = CSV_PATH) -> Model:
    """Train a model on a labelled CSV (text,code)."""
    texts, codes = read_examples(csv_path)
    return fit(texts, codes, csv_sha256=file_sha256(csv_path))


def load(path: str | os.PathLike) -> Model:
    """Read a model written by ``Model.save`` (a trusted file from our own instance folder)."""
    with open(path, "rb") as fh:
        model = pickle.load(fh)  # noqa: S301 - written by this application, never uploaded
    if not isinstance(model, Model):
        raise TypeError(f"{path} does not hold a report classifier")
    return model


def load_or_train(model_path: str | os.PathLike, csv_path: str | os.PathLike = CSV_PATH) -> Model:
    """The stored model if it was trained on this CSV (and sklearn); else train and store one."""
    model_path = Path(model_path)
    digest = file_sha256(csv_path)
    if model_path.exists():
        try:
            model = load(model_path)
        except Exception:  # a corrupt or incompatible file is simply rebuilt
            log.warning("report classifier at %s unreadable, retraining", model_path)
        else:
            if model.csv_sha256 == digest and model.sklearn_version == sklearn.__version__:
                return model
            log.info("report classifier at %s is stale, retraining", model_path)
    started = time.perf_counter()
    model = train(csv_path)
    model.save(model_path)
    log.info("report classifier trained in %.1f s", time.perf_counter() - started)
    return model


def _is_current(model_path: Path, csv_path: str | os.PathLike) -> bool:
    """True if the stored model was trained on this CSV with this scikit-learn."""
    if not model_path.exists():
        return False
    try:
        model = load(model_path)
    except Exception:  # noqa: BLE001 - unreadable means not current
        return False
    return model.csv_sha256 == file_sha256(csv_path) and (
        model.sklearn_version == sklearn.__version__
    )


def model_path_for(app: Flask) -> Path:
    """Where the app keeps its trained model."""
    return Path(app.config.get("INSTANCE_DIR") or app.instance_path) / MODEL_RELPATH


def get_model(app: Flask) -> Model:
    """The app's model: loaded (or trained) once per process, cached on app.extensions."""
    model = app.extensions.get(EXTENSION_KEY)
    if model is None:
        with _app_lock:
            model = app.extensions.get(EXTENSION_KEY)
            if model is None:
                csv_path = app.config.get("REPORT_CLASSIFIER_CSV") or CSV_PATH
                model = load_or_train(model_path_for(app), csv_path)
                app.extensions[EXTENSION_KEY] = model
    return model


def top_k_accuracy(model: Model, texts: list[str], codes: list[str], k: int) -> float:
    """Share of texts whose true code is among the model's k best suggestions."""
    if not texts:
        return 0.0
    hits = sum(
        code in {s.code for s in suggestions}
        for suggestions, code in zip(model.predict_many(texts, k), codes, strict=True)
    )
    return hits / len(texts)


def holdout_split(
    texts: list[str], codes: list[str], test_size: float = 0.2, seed: int = 42
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Fixed-seed stratified split: (train texts, test texts, train codes, test codes)."""
    return train_test_split(texts, codes, test_size=test_size, random_state=seed, stratify=codes)


@click.command("train-classifier")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Labelled CSV (default: reports/data/labelled_reports.csv).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Model file (default: {INSTANCE_DIR}/models/report_classifier.pkl).",
)
@click.option("--seed", default=42, show_default=True, help="Seed of the held-out split.")
@click.option("--force", is_flag=True, help="Retrain even if the stored model is current.")
@with_appcontext
def train_classifier_command(
    csv_path: str | None, output: str | None, seed: int, force: bool
) -> None:
    """Train the report classifier, print held-out accuracy, store the model."""
    csv_path = csv_path or str(current_app.config.get("REPORT_CLASSIFIER_CSV") or CSV_PATH)
    path = Path(output) if output else model_path_for(current_app)
    if not force and _is_current(path, csv_path):
        click.echo(f"report classifier at {path} is current (use --force to retrain)")
        return
    texts, codes = read_examples(csv_path)
    train_x, test_x, train_y, test_y = holdout_split(texts, codes, seed=seed)
    held_out = fit(train_x, train_y)
    top1 = top_k_accuracy(held_out, test_x, test_y, 1)
    top3 = top_k_accuracy(held_out, test_x, test_y, 3)
    click.echo(f"held-out ({len(test_x)} of {len(texts)}): top-1 {top1:.1%}, top-3 {top3:.1%}")
    started = time.perf_counter()
    model = train(csv_path)
    seconds = time.perf_counter() - started
    model.save(path)
    current_app.extensions[EXTENSION_KEY] = model
    click.echo(f"trained on {model.n_examples} examples in {seconds:.1f} s, saved to {path}")
