"""Counting words in text."""

import re


def word_counts(text):
    """How often each word occurs, ignoring case. A word is a run of letters and apostrophes."""
    counts = {}
    for word in re.findall(r"[A-Za-z']+", text.lower()):
        counts[word] = counts.get(word, 0) + 1
    return counts


def most_common(text, n=3):
    """The `n` most frequent words as (word, count) pairs, most frequent first, ties alphabetically."""
    counts = word_counts(text)
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:n]
