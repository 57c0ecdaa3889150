"""Printable documents for customers (statements) as PDF, drawn with ReportLab.

The text is set in Adobe's STSong-Light, one of the CID fonts every PDF reader carries for
Chinese (it covers Latin letters and digits too), so nothing is embedded and the file stays
small; its text stays extractable, which is how the tests read the figures back.

A document is what the web page shows, in the same words: a title, the facts as label and
value, notes, and tables whose numeric columns align right.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "STSong-Light"
PDF_TYPE = "application/pdf"

_registered = False


def _font() -> str:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


@dataclass
class PdfTable:
    title: str
    headings: list[str]
    rows: list[list[str]]
    numeric: frozenset[int] = frozenset()  # columns aligned right
    footer: list[str] | None = None
    empty: str = ""  # shown when there are no rows
    widths: tuple[float, ...] = ()  # each column's share of the width (equal when not given)


@dataclass
class PdfDocument:
    title: str
    subtitle: str = ""
    facts: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tables: list[PdfTable] = field(default_factory=list)
    closing: str = ""  # a last line, for example when the document was made


def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=16, leading=21, spaceAfter=2 * mm),
        "subtitle": ParagraphStyle("subtitle", fontName=font, fontSize=10, leading=14, textColor=colors.grey),
        "heading": ParagraphStyle("heading", fontName=font, fontSize=12, leading=16, spaceBefore=5 * mm),
        "body": ParagraphStyle("body", fontName=font, fontSize=9, leading=12),
        "number": ParagraphStyle("number", fontName=font, fontSize=9, leading=12, alignment=2),
        "note": ParagraphStyle("note", fontName=font, fontSize=9, leading=13, leftIndent=3 * mm),
    }


def _cells(values: Sequence[str], numeric: frozenset[int], styles: dict[str, ParagraphStyle]) -> list[Paragraph]:
    return [Paragraph(escape(str(v)), styles["number" if i in numeric else "body"]) for i, v in enumerate(values)]


def _table(spec: PdfTable, styles: dict[str, ParagraphStyle], width: float) -> Table:
    rows = [_cells(spec.headings, spec.numeric, styles)]
    rows += [_cells(r, spec.numeric, styles) for r in spec.rows]
    if not spec.rows and spec.empty:
        rows.append(_cells([spec.empty] + [""] * (len(spec.headings) - 1), frozenset(), styles))
    if spec.footer:
        rows.append(_cells(spec.footer, spec.numeric, styles))
    style = [
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f3f5f8")]),
    ]
    if spec.footer:
        style.append(("LINEABOVE", (0, -1), (-1, -1), 0.6, colors.black))
    return Table(
        rows, colWidths=[width / len(spec.headings)] * len(spec.headings), repeatRows=1, style=TableStyle(style)
    )


def pdf_bytes(document: PdfDocument) -> bytes:
    styles = _styles()
    buffer = io.BytesIO()
    page = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=document.title,
        subject=document.subtitle,
    )
    width = page.width
    flow: list[object] = [Paragraph(escape(document.title), styles["title"])]
    if document.subtitle:
        flow.append(Paragraph(escape(document.subtitle), styles["subtitle"]))
    if document.facts:
        facts = [
            [Paragraph(escape(k), styles["body"]), Paragraph(escape(v), styles["body"])] for k, v in document.facts
        ]
        flow += [Spacer(1, 4 * mm), Table(facts, colWidths=[width * 0.3, width * 0.7], hAlign="LEFT")]
    for note in document.notes:
        flow.append(Paragraph("• " + escape(note), styles["note"]))
    for spec in document.tables:
        flow.append(Paragraph(escape(spec.title), styles["heading"]))
        flow.append(_table(spec, styles, width))
    if document.closing:
        flow += [Spacer(1, 6 * mm), Paragraph(escape(document.closing), styles["subtitle"])]
    page.build(flow)
    return buffer.getvalue()


def pdf_response(document: PdfDocument, name: str) -> HttpResponse:
    response = HttpResponse(pdf_bytes(document), content_type=PDF_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, f"{name}.pdf") or "attachment"
    return response
