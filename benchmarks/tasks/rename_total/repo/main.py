import billing
from invoice import render_invoice

ITEMS = [("pen", 3, 1.5), ("pad", 2, 4.25)]

print(render_invoice("ACME", ITEMS))
print(f"check: {billing.calc_total(ITEMS):.2f}")
