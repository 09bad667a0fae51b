"""A dashboard table: a title, columns and rows; shown as HTML or downloaded as CSV."""

import csv
from dataclasses import dataclass, field
from datetime import date, datetime

from django.http import HttpResponse
from django.utils.text import slugify

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell (CSV injection)


@dataclass
class Table:
    title: str
    columns: list[tuple[str, str]]  # (row key, heading)
    rows: list[dict]
    note: str = ""
    links: dict[str, str] = field(default_factory=dict)  # row key holding a URL for the cell of column key
    action: tuple[str, str] | None = None  # (text, URL) of a link shown under the table

    def cells(self) -> list[list]:
        return [[_shown(row.get(key)) for key, _ in self.columns] for row in self.rows]

    def html_rows(self) -> list[list[tuple[object, str | None]]]:
        return [[(_shown(row.get(key)), row.get(self.links[key]) if key in self.links else None)
                 for key, _ in self.columns] for row in self.rows]


def _shown(value):
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float):
        return round(value, 2)
    if value is None:
        return ""
    return value


def _safe(cell):
    if isinstance(cell, str) and cell.startswith(FORMULA_PREFIXES):
        return "'" + cell
    return cell


def csv_response(table: Table, *, page: str) -> HttpResponse:
    """The table as a CSV attachment, its headings first."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{page}-{slugify(table.title)}.csv"'
    writer = csv.writer(response)
    writer.writerow([heading for _, heading in table.columns])
    for row in table.cells():
        writer.writerow([_safe(cell) for cell in row])
    return response
