"""Printable invoices."""

from billing import invoice_total


def render_invoice(customer, items):
    lines = [f"Invoice for {customer}"]
    for name, quantity, price in items:
        lines.append(f"  {name} x{quantity} @ {price:.2f}")
    lines.append(f"Total: {invoice_total(items):.2f}")
    return "\n".join(lines)
