"""One formatter for every report and export: a text table, JSON, CSV (UTF-8 with a BOM) and XLSX.

A ``Table`` is typed columns over rows of plain values (dates as ``date``, money as ``Decimal``). The
same rows become aligned text for a terminal, JSON for tools, CSV that Excel opens with Cyrillic intact,
and an XLSX workbook written in openpyxl's write-only mode (rows streamed to the file, never a whole
sheet in memory): dates as date cells, money as numbers in the tenant's currency format, a styled and
frozen header row, widths fitted to the header and the first rows, an autofilter over the table.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from bridge.booking.phones import mask_phone
from pipelines.events import jsonable

KINDS = ("text", "int", "money", "date", "datetime", "percent", "bool", "phone")  # phone: masked in tables
CURRENCY_SIGNS = {"UAH": "₴", "RUB": "₽", "EUR": "€", "USD": "$", "KZT": "₸", "GBP": "£", "PLN": "zł"}
WIDTH_SAMPLE = 1000  # rows that decide the XLSX column widths (the rest stream past)


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: str = "text"


@dataclass
class Table:
    """A named table; ``rows`` may be a generator (streamed once, by whichever writer takes it)."""

    name: str
    columns: tuple[Column, ...]
    rows: Iterable[dict[str, Any]] = field(default_factory=list)
    currency: str = ""

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.columns]


def text_value(value: Any, kind: str, currency: str = "") -> str:
    if value is None:
        return ""
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "phone":
        return mask_phone(value)
    if kind == "money":
        return f"{Decimal(value):,.2f}".replace(",", " ") + (f" {currency}" if currency else "")
    if kind == "percent":
        return f"{float(value) * 100:.1f} %"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def render_table(table: Table, limit: int | None = None) -> str:
    """Aligned columns for a terminal: numbers right-aligned, the rest left; ``limit`` rows at most.
    Phones are masked here (a terminal ends up in screenshots); JSON, CSV and XLSX have them whole."""
    rows = []
    for n, row in enumerate(table.rows):
        if limit is not None and n >= limit:
            break
        rows.append([text_value(row.get(c.key), c.kind, table.currency) for c in table.columns])
    lines = [f"{table.name} ({len(rows)} row{'s' if len(rows) != 1 else ''})"]
    if not rows:
        return lines[0]
    headers = [c.title for c in table.columns]
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    right = [c.kind in ("int", "money", "percent") for c in table.columns]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)).rstrip()

    return "\n".join([*lines, line(headers), *(line(r) for r in rows)])


def json_rows(table: Table) -> list[dict[str, Any]]:
    return [jsonable({k: row.get(k) for k in table.keys}) for row in table.rows]


def write_json(tables: list[Table], out: IO[bytes], meta: dict[str, Any] | None = None) -> None:
    doc = {**jsonable(meta or {}), "tables": {t.name: json_rows(t) for t in tables}}
    out.write((json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


def csv_lines(table: Table) -> Iterator[bytes]:
    """The table as CSV, UTF-8 with a BOM (Excel reads Cyrillic right), one encoded chunk per row."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.keys)
    yield buffer.getvalue().encode("utf-8-sig")
    for row in table.rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_csv_value(row.get(c.key), c.kind) for c in table.columns])
        yield buffer.getvalue().encode("utf-8")


def _csv_value(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind == "bool":
        return "yes" if value else "no"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def write_csv(table: Table, out: IO[bytes]) -> int:
    rows = -1
    for chunk in csv_lines(table):
        out.write(chunk)
        rows += 1
    return rows


def money_format(currency: str) -> str:
    sign = CURRENCY_SIGNS.get(currency, currency)
    return f'#,##0.00\\ "{sign}"' if sign else "#,##0.00"


_FORMATS = {"date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm", "int": "0", "percent": "0.0%"}


def write_xlsx(tables: list[Table], out: IO[bytes] | str) -> dict[str, int]:
    """Every table as a sheet of one workbook (write-only: rows go straight to the file). Rows per sheet."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    written: dict[str, int] = {}
    for table in tables:
        sheet = book.create_sheet(_sheet_title(table.name))
        rows = iter(table.rows)
        sample = [row for _, row in zip(range(WIDTH_SAMPLE), rows, strict=False)]
        for i, column in enumerate(table.columns, start=1):
            kind = "text" if column.kind == "phone" else column.kind
            width = max([len(column.title), *(len(text_value(r.get(column.key), kind, table.currency))
                                              for r in sample)])
            sheet.column_dimensions[get_column_letter(i)].width = min(60, width + 2)
        sheet.freeze_panes = "A2"
        header = []
        for column in table.columns:
            cell = WriteOnlyCell(sheet, value=column.title)
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = PatternFill("solid", fgColor="305496")
            cell.alignment = Alignment(vertical="center")
            header.append(cell)
        sheet.append(header)
        formats = [money_format(table.currency) if c.kind == "money" else _FORMATS.get(c.kind) for c in table.columns]
        count = 0
        for row in _chain(sample, rows):
            sheet.append([_xlsx_cell(sheet, row.get(c.key), c.kind, fmt, WriteOnlyCell)
                          for c, fmt in zip(table.columns, formats, strict=True)])
            count += 1
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{count + 1}"
        written[table.name] = count
    book.save(out)
    return written


def _chain(first: list[dict[str, Any]], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield from first
    yield from rest


def _xlsx_cell(sheet: Any, value: Any, kind: str, fmt: str | None, cell_type: Any) -> Any:
    if value is None:
        return None
    if kind == "bool":
        return "yes" if value else "no"
    if kind in ("money", "percent") or (kind == "int" and not isinstance(value, int)):
        value = float(value)  # a number cell (Decimal would be kept as is, float is what Excel stores)
    if isinstance(value, datetime):
        value = value.replace(tzinfo=None)  # Excel has no zones: the local time as shown elsewhere
    if fmt is None or kind == "int":
        return value
    cell = cell_type(sheet, value=value)
    cell.number_format = fmt
    return cell


def _sheet_title(name: str) -> str:
    for bad in "[]:*?/\\":
        name = name.replace(bad, " ")
    return name[:31] or "Sheet"
