"""Django's `{# #}` comment ends at the line's end: one spread over lines prints on the page."""

from pathlib import Path

from django.conf import settings


def test_no_template_opens_a_one_line_comment_it_does_not_close_on_that_line() -> None:
    root = Path(settings.BASE_DIR)
    templates = [
        path
        for path in root.rglob("templates/**/*.html")
        if ".venv" not in path.parts and "node_modules" not in path.parts
    ]
    open_comments = [
        f"{path.relative_to(root)}:{number}"
        for path in templates
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "{#" in line and "#}" not in line[line.index("{#") :]
    ]

    assert templates
    assert open_comments == [], "use {% comment %} for comments over several lines"
