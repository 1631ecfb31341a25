from cart import Cart


def demo():
    cart = Cart()
    cart.add_item("tea", 3.5)
    cart.add_item("cups", 2.0, quantity=4)
    return cart


if __name__ == "__main__":
    cart = demo()
    print(f"{len(cart.lines)} lines, total {cart.total():.2f}")
