"""Operator pages that read: the regional report (tables, SVG charts, CSV) and a course's use.

Figures come from :mod:`lti_tool.regional` (one definition of each figure for the page, the
charts and the CSV); charts are drawn on the server by :mod:`lti_tool.charts`, with numbers in
the reader's locale.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import abort, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup

from lti_tool import catalogue_usage, charts, regional
from lti_tool.web import services
from lti_tool.web.admin import bp, csrf_token, operator_required
from lti_tool.web.console import _record
from lti_tool.web.csv_export import csv_response
from lti_tool.web.formatting import number, percent

MAX_YEAR = 9999


def _window() -> tuple[datetime | None, datetime | None, int | None, str | None]:
    """``year`` (a calendar year) or nothing (all time); ``platform`` (an academy id) or all."""
    year = request.args.get("year", "")
    platform = request.args.get("platform", "")
    problem = None
    since = until = None
    if year:
        if year.isdigit() and 2000 <= int(year) <= MAX_YEAR - 1:
            since = datetime(int(year), 1, 1, tzinfo=UTC)
            until = datetime(int(year) + 1, 1, 1, tzinfo=UTC)
        else:
            problem = _("The year must be a number like 2026: showing all years.")
    if platform and not platform.isdigit():
        problem = _("Unknown academy: showing every academy.")
        platform = ""
    return since, until, int(platform) if platform else None, problem


def _charts(report: regional.RegionalReport) -> dict[str, Markup]:
    t = report.totals
    funnel = charts.funnel_svg(
        [
            charts.Point(_("Enrolled"), t.enrolments),
            charts.Point(_("Started"), t.started),
            charts.Point(_("Completed"), t.completed),
            charts.Point(_("Passed"), t.passed),
        ],
        title=_("From enrolment to pass"),
        desc=_(
            "%(e)s enrolments, %(s)s started, %(c)s completed, %(p)s passed.",
            e=number(t.enrolments),
            s=number(t.started),
            c=number(t.completed),
            p=number(t.passed),
        ),
        number=number,
        percent_of_first=percent,
        empty=_("No learner has opened a course yet."),
    )
    months = charts.series_svg(
        [charts.Point(p.month, p.completed) for p in report.months],
        title=_("Completions per month"),
        desc="; ".join(f"{p.month}: {number(p.completed)}" for p in report.months) or _("No completions yet."),
        y_label=_("Completions"),
        number=number,
        empty=_("No completions yet."),
    )
    academies = charts.funnel_svg(
        [
            charts.Point(report.academy_names[pid], tally.completed)
            for pid, tally in sorted(report.academies.items(), key=lambda kv: -kv[1].completed)
        ],
        title=_("Completions per academy"),
        desc="; ".join(
            f"{report.academy_names[pid]}: {number(tally.completed)}" for pid, tally in report.academies.items()
        )
        or _("No academy has learners yet."),
        number=number,
        percent_of_first=percent,
        empty=_("No completions yet."),
    )
    # charts.py escapes every piece of text it draws (tests/test_charts.py), so its SVG is safe markup
    drawn = {"funnel": funnel, "months": months, "academies": academies}
    return {name: Markup(svg) for name, svg in drawn.items()}  # noqa: S704


@bp.get("/report")
@operator_required
def report() -> str:
    """The regional report for a year (or all time), every academy or one."""
    since, until, platform, problem = _window()
    data = regional.regional_report(services().db, since=since, until=until, platform_id=platform)
    every = regional.regional_report(services().db) if platform is not None else data
    return render_template(
        "admin/report.html",
        report=data,
        charts=_charts(data),
        academy_choices=sorted(every.academy_names.items(), key=lambda kv: kv[1].lower()),
        year=request.args.get("year", "") if since else "",
        platform=platform,
        error=problem,
        this_year=datetime.now(UTC).year,
        csrf=csrf_token(),
    )


@bp.get("/report.csv")
@operator_required
def report_csv() -> Any:
    """The report's figures per academy × course, per academy and in total, as CSV."""
    since, until, platform, _problem = _window()
    data = regional.regional_report(services().db, since=since, until=until, platform_id=platform)
    _record("report.export", params={"year": request.args.get("year") or "*", "platform": platform or "*"})
    stamp = since.year if since else "all"
    return csv_response(regional.csv_rows(data), f"cbsi-regional-report-{stamp}.csv")


@bp.get("/packages/<int:course_id>")
@operator_required
def course(course_id: int) -> str:
    """A course's versions and where each is used."""
    use = catalogue_usage.course_usage(services().db, course_id)
    if use is None:
        abort(404)
    from lti_tool.web.preview import version_aus

    return render_template("admin/course.html", use=use, csrf=csrf_token(), aus=version_aus(use))
