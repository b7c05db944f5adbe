"""Every dashboard table downloadable as CSV and XLSX, and drawn as a chart where people would rather look."""

from __future__ import annotations

import csv
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from openpyxl import Workbook

from .dashboards import Table


def to_csv(table: Table) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["" if v is None else v for v in row])
    for note in table.notes:
        writer.writerow([f"# {note}"])
    # A byte-order mark so that spreadsheet programs read Cyrillic and Kazakh letters as UTF-8.
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(tables: list[Table]) -> bytes:
    book = Workbook()
    first = True
    for table in tables:
        sheet = book.active if first else book.create_sheet()
        first = False
        assert sheet is not None
        sheet.title = table.key[:31]
        sheet.append(list(table.columns))
        for row in table.rows:
            sheet.append([v for v in row])
        for note in table.notes:
            sheet.append([note])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


CHARTS: dict[str, tuple[str, str]] = {
    # table key: (label column, value column)
    "alerts": ("type", "per_wearer_day"),
    "caseload": ("category", "on_em"),
    "response": ("severity", "median_min"),
}


def chart_png(table: Table) -> bytes:
    """A bar chart of the table's main figure (see :data:`CHARTS`); suppressed values are left out."""
    if table.key not in CHARTS:
        raise LookupError(f"no chart for {table.key}")
    label_col, value_col = CHARTS[table.key]
    li, vi = table.columns.index(label_col), table.columns.index(value_col)
    pairs: list[tuple[str, Any]] = [(str(r[li]), r[vi]) for r in table.rows
                                    if r[li] != "total" and isinstance(r[vi], int | float)]
    fig, ax = plt.subplots(figsize=(6.5, 3.2), dpi=100)
    ax.barh([p[0] for p in pairs], [p[1] for p in pairs], color="#2b6cb0")
    ax.set_xlabel(value_col.replace("_", " "))
    ax.set_title(table.title)
    ax.invert_yaxis()
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()
