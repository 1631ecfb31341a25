from words import most_common, word_counts


def test_counts_ignore_case():
    assert word_counts("The cat and the hat") == {"the": 2, "cat": 1, "and": 1, "hat": 1}
    assert word_counts("It's IT's it's") == {"it's": 3}
    assert word_counts("") == {}


def test_most_common():
    assert most_common("b a B c a b", 2) == [("b", 3), ("a", 2)]
    assert most_common("Dog cat DOG bird", 3) == [("dog", 2), ("bird", 1), ("cat", 1)]
