"""The floor of a report PDF: the process no `compliance_report` can start below.

    python -m bench.report_floor

Django set up with the bench's settings, WeasyPrint imported, and one line of text rendered
and written as a one-page PDF (font loading and subsetting included). The parent times this
whole process beside `manage.py compliance_report ... --output x.pdf`, so their difference is
what the report itself costs: its queries, its template and its pages.
"""

from __future__ import annotations

import sys


def main() -> int:
    import django

    django.setup()
    from weasyprint import HTML

    pdf = HTML(string="<p>Rampart compliance report</p>").write_pdf()
    sys.stdout.write(f"{len(pdf)} bytes\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
