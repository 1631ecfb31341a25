from versions import compare_versions


def test_numbers_not_text():
    assert compare_versions("1.10", "1.9") == 1
