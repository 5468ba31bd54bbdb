"""Attendance by gender and youth, drawn on the meetings page: aggregates only."""

from association.auth.models import Role
from association.core import dates
from association.core.time import today_in_nairobi
from association.extensions import db
from association.meetings.models import Meeting
from association.meetings.quorum import attendance_charts, attendance_counts
from association.members.models import Member
from tests.meetings.test_transparency_charts import _figure


def test_the_meetings_page_draws_attendance_by_gender_and_youth(
        app, web, held_meeting, crowd, make_user):
    older = held_meeting(present=9, days_ago=20)  # 7 women, 2 men; 5 youth
    latest = held_meeting(present=3, days_ago=3)  # 3 women, all youth
    make_user("secretary", Role.SECRETARY)
    web.login("secretary")
    html = web.get("/meetings").get_data(as_text=True)
    with app.test_request_context("/"):
        meetings = [db.session.get(Meeting, i) for i in (older, latest)]
        labels = [f"{dates.day(m.held_on)} · General baraza"
                  for m in meetings]
        counts = [attendance_counts(m) for m in meetings]
        names = [m.full_name for m in db.session.scalars(db.select(Member))]
        assert [c.title for c in attendance_charts(today_in_nairobi())] == [
            "Members present, by gender", "Members present, youth and older"]
    svg, rows = _figure(html, "attendance-gender")
    assert 'role="img"' in svg
    # Oldest first, the same counts as the meeting's own summary.
    assert [row[0] for row in rows] == labels
    assert rows == [[label, str(c.women), str(c.men), str(c.other + c.unknown)]
                    for label, c in zip(labels, counts, strict=True)]
    assert [row[1:] for row in rows] == [["7", "2", "0"], ["3", "0", "0"]]
    _svg, rows = _figure(html, "attendance-youth")
    assert [row[1:] for row in rows] == [["5", "4"], ["3", "0"]]
    figures = html[html.index('<div class="charts">'):html.index("</form>")]
    for name in names:
        assert name not in figures and name.split()[0] not in figures


def test_no_meeting_held_yet_says_so(app, web, setup_association, make_user):
    make_user("secretary", Role.SECRETARY)
    web.login("secretary")
    html = web.get("/meetings").get_data(as_text=True)
    part = html[html.index('id="attendance-gender"'):]
    part = part[:part.index("</figure>")]
    assert "Nothing to draw yet" in part and "<svg" not in part


def test_the_attendance_charts_read_the_members_in_a_few_queries(app, held_meeting, crowd):
    """Not a query per member present: the meetings, their attendance and its members
    come in a handful of queries whatever the crowd."""
    import sqlalchemy as sa

    held_meeting(present=9, days_ago=20)
    held_meeting(present=12, days_ago=3)
    statements = []

    def count(*_args):
        statements.append(1)

    with app.test_request_context("/"):
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            charts = attendance_charts(today_in_nairobi())
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
    assert charts and len(statements) <= 5, len(statements)
