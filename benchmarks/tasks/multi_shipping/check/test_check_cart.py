import cart
import settings


def test_settings():
    assert settings.SHIPPING_FEE == 5.0
    assert settings.FREE_SHIPPING_FROM == 50.0
    assert settings.TAX_RATE == 0.2


def test_shipping():
    assert cart.total([10.0]) == 18.0
    assert cart.total([30.0, 15.0]) == 60.0
    assert cart.total([50.0]) == 60.0
    assert cart.total([30.0, 25.0]) == 66.0


def test_values_come_from_settings(monkeypatch):
    monkeypatch.setattr(settings, "SHIPPING_FEE", 7.0)
    monkeypatch.setattr(settings, "FREE_SHIPPING_FROM", 100.0)
    assert cart.total([10.0]) == 20.4
    assert cart.total([60.0]) == 80.4
