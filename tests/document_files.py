"""Real documents made on the spot for tests, benchmarks and the tutorial: no downloads.

PDFs with fpdf2 (LGPL-3.0, a dev dependency), Word/PowerPoint/Excel files with python-docx, python-pptx and
openpyxl (installed with markitdown's extras), and hostile files (encrypted, scanned, corrupt, a zip bomb).
Each fact in a generated document is unique to its page, so retrieval and citation tests know the right page.
"""

from __future__ import annotations

import io
import zipfile

__all__ = [
    "FACTS",
    "docx_bytes",
    "encrypted_pdf",
    "html_bytes",
    "pptx_bytes",
    "report_pdf",
    "scanned_pdf",
    "xlsx_bytes",
    "zip_bomb_docx",
]

_TOPICS = ("glaciers", "volcanoes", "coral reefs", "deserts", "rainforests", "tundra", "estuaries", "savannas",
           "wetlands", "mangroves", "steppes", "fjords")  # fmt: skip
_FILLER = ("Field notes record the weather, the instruments used and the names of the observers. Samples were "
           "labelled, photographed and stored for later analysis in the laboratory. ")  # fmt: skip


def fact(page: int) -> tuple[str, str, str]:
    """(question, answer, sentence) of ``page``: each page holds one fact no other page states."""
    topic = _TOPICS[page % len(_TOPICS)]
    code = f"K{page * 7919 % 10007:05d}"
    question = f"What is the survey code of the {topic} expedition number {page}?"
    sentence = f"The {topic} expedition number {page} was filed under survey code {code}."
    return question, code, sentence


FACTS = [fact(p) for p in range(1, 13)]
"""(question, answer, sentence) for pages 1-12 of :func:`report_pdf`: a fixed question set (recall@k)."""


def report_pdf(pages: int = 12, *, table: bool = True, filler: int = 4) -> bytes:
    """A report of ``pages`` pages, one fact per page (:func:`fact`), a table of metals on page 2."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(auto=False)
    for n in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("helvetica", "B", 14)
        pdf.cell(0, 10, f"Chapter {n}: {_TOPICS[n % len(_TOPICS)].title()}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=10)
        pdf.multi_cell(0, 5, fact(n)[2] + " " + _FILLER * filler)
        if table and n == 2:
            pdf.ln(4)
            with pdf.table(col_widths=(60, 40)) as t:
                for row in (("Metal", "Density (g/cm3)"), ("Iron", "7.87"), ("Gold", "19.32"), ("Osmium", "22.59")):
                    cells = t.row()
                    for value in row:
                        cells.cell(value)
    return bytes(pdf.output())


def scanned_pdf(pages: int = 2) -> bytes:
    """A PDF whose pages are only images (as a scanner makes them): no text layer."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    pdf = FPDF()
    for n in range(pages):
        img = Image.new("RGB", (400, 200), "white")
        ImageDraw.Draw(img).text((20, 80), f"Scanned page {n + 1}: text only as pixels", fill="black")
        pdf.add_page()
        pdf.image(img, x=10, y=10, w=180)
    return bytes(pdf.output())


def encrypted_pdf() -> bytes:
    """A PDF that needs a password to open (AES-128, user password ``"secret"``)."""
    from fpdf import FPDF
    from fpdf.enums import EncryptionMethod

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret", encryption_method=EncryptionMethod.AES_128)
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, "Confidential minutes of the board meeting.")
    return bytes(pdf.output())


def docx_bytes() -> bytes:
    """A Word file: a title, two headed sections and a table."""
    import docx

    document = docx.Document()
    document.add_heading("Lab handbook", 0)
    document.add_heading("Safety", level=1)
    document.add_paragraph("Goggles are worn at all times. The eye-wash station is beside door B4.")
    document.add_heading("Equipment", level=1)
    document.add_paragraph("The centrifuge in room 12 spins at most at 15000 rpm.")
    table = document.add_table(rows=3, cols=2)
    for r, (a, b) in enumerate((("Item", "Room"), ("Centrifuge", "12"), ("Fume hood", "14"))):
        table.cell(r, 0).text, table.cell(r, 1).text = a, b
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def pptx_bytes() -> bytes:
    """A deck of three slides; slide 2 holds the deadline, slide 3 a table."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for title, body in (("Course overview", "Weekly lectures on Mondays."),
                        ("Assessment", "The project deadline is 14 March at noon.")):  # fmt: skip
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Grades"
    table = slide.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(1.5)).table
    for r, (a, b) in enumerate((("Part", "Weight"), ("Exam", "60%"), ("Project", "40%"))):
        table.cell(r, 0).text, table.cell(r, 1).text = a, b
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def xlsx_bytes() -> bytes:
    """A workbook with two sheets."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Budget"
    for row in (("Item", "Cost"), ("Microscope", 1200), ("Reagents", 340)):
        sheet.append(row)
    people = book.create_sheet("Staff")
    for row in (("Name", "Role"), ("Ada", "Technician")):
        people.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def html_bytes() -> bytes:
    """A web page with headings, a table and a script (which must not reach the text)."""
    return b"""<!doctype html><html><head><title>Museum</title><script>alert('x')</script></head><body>
<h1>City museum</h1><p>Open from 9 to 17, closed on Tuesdays.</p>
<h2>Prices</h2><table><tr><th>Ticket</th><th>Price</th></tr><tr><td>Adult</td><td>12 EUR</td></tr></table>
</body></html>"""


def zip_bomb_docx(expanded_mib: int = 64) -> bytes:
    """A small file named like a Word document whose ``word/document.xml`` expands to ``expanded_mib`` MiB."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        info = zipfile.ZipInfo("word/document.xml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            block = b"\0" * 2**20
            for _ in range(expanded_mib):
                member.write(block)

    return buf.getvalue()
