"""A shopping cart."""


class Cart:
    def __init__(self):
        self.lines = []

    def add_item(self, name, price, quantity=1):
        self.lines.append((name, price, quantity))

    def total(self):
        return sum(price * quantity for _, price, quantity in self.lines)
