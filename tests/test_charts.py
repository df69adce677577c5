"""Server-side SVG charts: well-formed, accessible, escaped, and drawn to scale."""

from __future__ import annotations

import pytest
from lxml import etree

from lti_tool.charts import Point, funnel_svg, histogram_svg, score_bands, series_svg

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>&"\''


def parse(svg: str) -> etree._Element:
    return etree.fromstring(svg.encode())


def texts(root: etree._Element) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text")]


def test_funnel_is_accessible_and_to_scale() -> None:
    svg = funnel_svg(
        [Point("Enrolled", 40), Point("Started", 30), Point("Completed", 20), Point("Passed", 10)],
        title="Completion funnel",
        desc="40 enrolled, 10 passed",
    )
    root = parse(svg)
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    assert root.find(f"{SVG}title").get("id") == title_id
    assert root.find(f"{SVG}title").text == "Completion funnel"
    assert root.find(f"{SVG}desc").get("id") == desc_id
    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(widths[1] * 4 / 3)
    assert widths[0] == pytest.approx(widths[3] * 4)
    # every value is written out, so nothing is told by colour or length alone
    assert {"40", "30 (75%)", "20 (50%)", "10 (25%)"} <= set(texts(root))


def test_funnel_of_an_empty_class_draws_no_bars_and_no_division_by_zero() -> None:
    root = parse(funnel_svg([Point("Enrolled", 0), Point("Passed", 0)], title="t", desc="d"))
    assert [float(r.get("width")) for r in root.iter(f"{SVG}rect")] == [0.0, 0.0]
    assert texts(root).count("0") == 2


def test_text_is_escaped_everywhere() -> None:
    svg = histogram_svg([Point(HOSTILE, 3)], title=HOSTILE, desc=HOSTILE, x_label=HOSTILE, y_label=HOSTILE)
    root = parse(svg)  # still well-formed XML
    assert "<script" not in svg
    assert not list(root.iter("script")) and not list(root.iter(f"{SVG}script"))
    assert root.find(f"{SVG}title").text == HOSTILE
    assert texts(root).count(HOSTILE) == 3  # bin label, x label, y label


def test_locale_number_format_is_used() -> None:
    svg = series_svg(
        [Point("2026-01", 1234.0), Point("2026-02", 5.5)],
        title="t",
        desc="d",
        y_label="Completions",
        number=lambda v: f"{v:,.1f}".replace(",", " ").replace(".", ","),
    )
    assert {"1 234,0", "5,5"} <= set(texts(parse(svg)))


def test_histogram_bars_are_proportional_to_counts() -> None:
    root = parse(
        histogram_svg([Point("a", 2), Point("b", 8), Point("c", 0)], title="t", desc="d", x_label="x", y_label="y")
    )
    heights = [float(r.get("height")) for r in root.iter(f"{SVG}rect")]
    assert heights[1] == pytest.approx(heights[0] * 4)
    assert heights[2] == 0


def test_chart_ids_are_unique_per_chart() -> None:
    a = parse(funnel_svg([Point("x", 1)], title="a", desc="a"))
    b = parse(funnel_svg([Point("x", 1)], title="b", desc="b"))
    assert a.get("aria-labelledby") != b.get("aria-labelledby")


def test_score_bands() -> None:
    bands = score_bands([0, 9.99, 10, 55, 99.5, 100, 100, -3, 140])
    assert [b.label for b in bands][:2] == ["0–9", "10–19"]
    assert bands[-1].label == "90–100"
    assert [b.value for b in bands] == [3, 1, 0, 0, 0, 1, 0, 0, 0, 4]
    assert sum(b.value for b in score_bands([], width=20)) == 0
    with pytest.raises(ValueError, match="divide 100"):
        score_bands([1.0], width=30)


def test_empty_data_is_said_in_words_not_drawn_as_empty_axes() -> None:
    root = parse(funnel_svg([Point("Enrolled", 0)], title="t", desc="d", empty="No learner yet."))
    assert texts(root) == ["No learner yet."] and not list(root.iter(f"{SVG}rect"))
    root = parse(series_svg([], title="t", desc="d", y_label="y", empty="No completions yet."))
    assert texts(root) == ["No completions yet."]
    assert root.get("role") == "img" and root.find(f"{SVG}title").text == "t"


def test_charts_declare_their_natural_size() -> None:
    root = parse(funnel_svg([Point("a", 3)], title="t", desc="d"))
    width, height = root.get("viewBox").split()[2:]
    assert (root.get("width"), root.get("height")) == (width, height)


def test_long_labels_are_shortened_with_an_ellipsis() -> None:
    name = "Royal Bahamas Police Force Training College, Nassau"
    root = parse(funnel_svg([Point(name, 3)], title="t", desc=name))
    label = texts(root)[0]
    assert label.endswith("…") and len(label) == 30 and name.startswith(label[:-1])
    assert root.find(f"{SVG}desc").text == name
