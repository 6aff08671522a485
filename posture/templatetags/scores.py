"""Template filters for showing scores with the one colour scale (posture.scoring)."""

from __future__ import annotations

from django import template

from posture.scoring import score_grade as grade_of

register = template.Library()


@register.filter
def score_grade(score: float | None) -> str:
    """The colour step ("0".."9", "none") of a score: `class="grade-{{ score|score_grade }}"`."""
    return grade_of(None if score in (None, "") else float(score))  # type: ignore[arg-type]
