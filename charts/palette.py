"""Default colours, keyed by CSS class.

They are written as SVG presentation attributes, which the PDF (no site CSS) honours and the
CSP allows; any rule in the site stylesheet overrides them, because presentation attributes
lose to every author style.
"""

from __future__ import annotations

TEXT = "#1d232b"
MUTED = "#5b6672"
GRID = "#e3e7ec"
AXIS = "#9aa5b1"

PALETTE: dict[str, str] = {
    "sev-critical": "#7f1d1d",
    "sev-high": "#dc2626",
    "sev-medium": "#f59e0b",
    "sev-low": "#3b82f6",
    "sev-info": "#9aa5b1",
    "series-overall": "#1d232b",
    "series-patching": "#1f5fae",
    "series-network": "#0f766e",
    "series-access": "#7c3aed",
    "series-isolation": "#c2410c",
    "series-supply_chain": "#be185d",
    "series-coverage": "#1b6e3a",
    "series-mean": "#1f5fae",
    "series-median": "#5b6672",
    # The two percentiles frame the median in colours of their own (low warm, high cool), so
    # the legend tells them apart; charts.css also dashes one and dots the other.
    "series-p10": "#c2410c",
    "series-p90": "#0f766e",
    "series-opened": "#dc2626",
    "series-resolved": "#1b6e3a",
    "marker-upgrade": "#6d28d9",
    "marker-waiver": "#b45309",
    "marker-event": "#5b6672",
    "bar-positive": "#1f5fae",
    "bar-negative": "#a2261d",
    "score-good": "#1b6e3a",
    "score-fair": "#d97706",
    "score-poor": "#a2261d",
    "score-none": "#9aa5b1",
}

# For classes the palette does not know, by position, so neighbouring series still differ.
FALLBACK: tuple[str, ...] = ("#1f5fae", "#0f766e", "#7c3aed", "#c2410c", "#be185d", "#5b6672")


def colour_for(css_class: str, index: int = 0) -> str:
    """The colour of the last class in `css_class` the palette knows, else a fallback."""
    for name in reversed(css_class.split()):
        if name in PALETTE:
            return PALETTE[name]
    return FALLBACK[index % len(FALLBACK)]
