from cart import total


def test_tax_is_added():
    assert total([60.0]) == 72.0
