"""Joins the extracted files and reports the row count as an output property."""
import csv
import json
import os
import sys
from pathlib import Path

data = Path(sys.argv[1])
orders = list(csv.DictReader(open(data / "orders.csv")))
customers = list(csv.DictReader(open(data / "customers.csv")))
rows = len(orders) + len(customers)
print(f"transformed {rows} rows")
with open(os.environ["JOB_OUTPUT_PROP_FILE"], "w") as out:
    json.dump({"rows": rows}, out)
