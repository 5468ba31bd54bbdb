"""``flask patrols roster`` and ``flask patrols export``."""

import csv
import io

import sqlalchemy as sa

from association.extensions import db
from association.patrols.models import Assignment
from tests.patrols.conftest import next_month


def test_roster_then_export(app, runner, patrol_ids):
    month = next_month().strftime("%Y-%m")
    result = runner.invoke(args=["patrols", "roster", "--month", month])
    assert result.exit_code == 0, result.output
    assert "places filled" in result.output and "SHORT Kosovo" in result.output
    with app.app_context():
        total = db.session.scalar(sa.select(sa.func.count(Assignment.id)))
    assert total > 0
    again = runner.invoke(args=["patrols", "roster", "--month", month])
    assert again.exit_code == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Assignment.id))) == total

    result = runner.invoke(args=["patrols", "export", "--month", month, "--format", "csv"])
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == ["date", "shift_start", "shift_end", "zone", "member_no"]
    assert len(rows) == total + 1
    night, start, end, zone, member_no = rows[1]
    assert start.startswith(night) and end > start and zone in ("Mabatini", "Kosovo")
    assert member_no.startswith("MLK-")
    late = [r for r in rows[1:] if r[1].endswith("01:00")]
    assert late and all(r[1][:10] > r[0] for r in late)  # after midnight, same night


def test_bad_months_fail_cleanly(runner, patrol_ids):
    for args in (["patrols", "roster", "--month", "2026-13"],
                 ["patrols", "roster", "--month", "soon"],
                 ["patrols", "export", "--month", "03-2026"],
                 ["patrols", "export", "--month", "2026-03", "--format", "xml"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0
        assert "Traceback" not in result.output


def test_roster_without_shifts_says_so(runner, setup_association):
    result = runner.invoke(args=["patrols", "roster", "--month", next_month().strftime("%Y-%m")])
    assert result.exit_code == 1 and "no shifts" in result.output
