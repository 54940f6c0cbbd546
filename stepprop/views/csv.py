"""Rows as CSV text, for a spreadsheet (``stepprop check CONFIG class.csv -o grades.csv``)."""

from __future__ import annotations

import csv
import io

# a cell a spreadsheet would run as a formula (=1+1, @SUM(...)): a student's id is
# whatever the class's file holds, so such a cell is written as text ('=1+1)
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(["'" + cell if cell.startswith(FORMULA) else cell for cell in row])
    return out.getvalue()
