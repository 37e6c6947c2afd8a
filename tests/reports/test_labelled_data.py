"""The labelled CSV has no near-duplicate rows (they would leak across the held-out split)."""

from __future__ import annotations

import csv

from reports import classifier as clf

# Two rows whose character 3-gram sets overlap more than this (Jaccard) count as near-duplicates,
# e.g. the same sentence with another address or number.
MAX_JACCARD = 0.8


def _grams(text: str) -> frozenset[str]:
    chars = clf.normalize_chars(text).replace(" ", "")
    return frozenset(chars[i : i + 3] for i in range(max(1, len(chars) - 2)))


def near_duplicates(texts: list[str], threshold: float = MAX_JACCARD) -> list[tuple[str, str]]:
    """Pairs of texts whose character 3-gram Jaccard similarity exceeds the threshold."""
    grams = [_grams(t) for t in texts]
    index: dict[str, list[int]] = {}
    pairs = []
    for i, gi in enumerate(grams):
        seen: set[int] = set()
        for g in gi:
            for j in index.get(g, ()):
                if j not in seen:
                    seen.add(j)
                    gj = grams[j]
                    if len(gi & gj) / len(gi | gj) > threshold:
                        pairs.append((texts[j], texts[i]))
            index.setdefault(g, []).append(i)
    return pairs


def test_no_near_duplicate_rows():
    with open(clf.CSV_PATH, encoding="utf-8", newline="") as fh:
        texts = [row["text"] for row in csv.DictReader(fh)]
    assert len(set(texts)) == len(texts)
    assert near_duplicates(texts) == []
