from stats import mean, spread


def test_mean():
    assert mean([1, 2, 3, 4]) == 2.5
    assert mean([2, 4]) == 3
    assert mean([7]) == 7
    assert mean([1, 2]) == 1.5
    assert mean([-1, -2]) == -1.5


def test_spread():
    assert spread([3, 9, 4]) == 6
