"""What the every-page sweep (test_every_page.py) checks on each page, and how it finds
the pages: the checks run in the browser (layout at 360x740, axe-core) or on the page's
text (the language hook)."""

from urllib.parse import parse_qsl, urlsplit

from axe_playwright_python.base import AXE_SCRIPT

from tests.i18n_scan import page_slips

#: Files, not pages: the sweep does not open them.
DOWNLOAD_SUFFIXES = (".pdf", ".csv", ".xlsx", ".ics", ".txt", ".png", ".svg", ".jpg", ".json")
DOWNLOAD_FORMATS = {"pdf", "csv", "xlsx", "ics", "txt", "png", "journal", "beancount"}
#: axe-core impacts that fail the sweep.
FAILING_IMPACTS = {"serious", "critical"}

#: The browser measures the page as first shown: the document's width, and every amount
#: (a ``.num`` cell, or anything marked ``data-amount``) whose right edge is beyond the
#: viewport, also one inside a table scrolled sideways (off-screen until scrolled).
LAYOUT_SCRIPT = """() => {
  const width = window.innerWidth, problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > width) {
    const wide = [];
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width && r.right > width + 1 && !el.closest('.table-wrap') && wide.length < 3)
        wide.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')
                  + ' ' + Math.round(r.right) + 'px');
    }
    problems.push(`document ${doc.scrollWidth}px wide for ${width}px: ${wide.join(', ')}`);
  }
  const off = [];
  for (const el of document.querySelectorAll('td.num, th.num, [data-amount]')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;  // not shown (a closed <details>, a hidden block)
    if (r.right > width + 1)
      off.push(`"${el.textContent.trim().slice(0, 30)}" at ${Math.round(r.right)}px`);
  }
  if (off.length)
    problems.push(`${off.length} amount(s) off-screen, e.g. ${off.slice(0, 3).join('; ')}`);
  return problems;
}"""

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 2).map(n => n.target.join(' '))}));
}"""


def language_problems(html: str, language: str, typed: list[str]) -> list[str]:
    """Slips in the page's words (issue 21 item 5): ISO or US dates in either language, and
    English interface words on a Kiswahili page, by the same scan as the Kiswahili crawl
    of every page and PDF (tests/i18n_scan.py), with what people typed taken out first."""
    return [f"{language}: {slip}" for slip in page_slips(html, language, typed)]


#: What people typed in the demo (tests/i18n_scan.typed_text), as JSON, from the app.
TYPED_SCRIPT = ("import json\nfrom tests.i18n_scan import typed_text\n"
                "print(json.dumps(typed_text()))")


def axe_script() -> str:
    """axe-core's script as axe-playwright-python bundles it (locked in requirements-e2e.lock)."""
    return AXE_SCRIPT


def page_problems(page, language: str, typed: list[str], with_axe: bool = True) -> list[str]:
    """Everything wrong with the page the browser shows, one line each (axe-core's
    violations only ``with_axe``: axe must then be loaded in the page)."""
    problems = list(page.evaluate(LAYOUT_SCRIPT))
    for violation in page.evaluate(AXE_RUN) if with_axe else ():
        if violation["impact"] in FAILING_IMPACTS:
            problems.append(f"axe {violation['impact']} {violation['id']}: {violation['help']} "
                            f"({', '.join(violation['nodes'])})")
    problems += language_problems(page.content(), language, typed)
    return problems


def is_download(url: str) -> bool:
    parts = urlsplit(url)
    if parts.path.lower().endswith(DOWNLOAD_SUFFIXES):
        return True
    return any(k == "format" and v.lower() in DOWNLOAD_FORMATS for k, v in parse_qsl(parts.query))


#: Filling the app's GET rules: which table's first row gives an argument's value.
ARGUMENT_TABLES = {
    "member_id": "member", "zone_id": "zone", "expense_id": "expense", "account_id": "account",
    "incident_id": "incident", "run_id": "stipend_run", "user_id": "user",
    "request_id": "mpesa_stk_request", "patroller_id": "patroller",
    "template_id": "shift_template", "version_id": "constitution_version",
    "notice_id": "officials_notice", "meeting_id": "meeting"
}
#: Where the same argument name means another table's row.
ENDPOINT_TABLES = {("patrols.zone", "zone_id"): "patrol_zone"}

#: Run inside the app (Server.python): prints the GET rules and, for each argument, ids.
RULES_SCRIPT = """
import json
import sqlalchemy as sa
from association.core.time import today_in_nairobi
tables = %r
endpoint_tables = %r
values = {}
def first(table, column=None):
    t = db.metadata.tables[table]
    c = t.c[column] if column else list(t.primary_key.columns)[0]
    return db.session.execute(sa.select(c).order_by(c.desc()).limit(1)).scalar()
rules = []
for rule in app.url_map.iter_rules():
    if "GET" not in rule.methods or rule.endpoint == "static":
        continue
    args = {}
    for name in rule.arguments:
        table = endpoint_tables.get(rule.endpoint + "|" + name) or tables.get(name)
        if table:
            args[name] = first(table)
        elif name == "number":
            args[name] = first("receipt", "number")
        elif name == "night":
            args[name] = today_in_nairobi().isoformat()
    if len(args) == len(rule.arguments) and None not in args.values():
        with app.test_request_context():
            from flask import url_for
            rules.append(url_for(rule.endpoint, **args))
print(json.dumps(rules))
"""


def rules_script() -> str:
    overrides = {f"{endpoint}|{arg}": table for (endpoint, arg), table in ENDPOINT_TABLES.items()}
    return RULES_SCRIPT % (ARGUMENT_TABLES, overrides)
