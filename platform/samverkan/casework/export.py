"""The inbox as CSV, safe to open in a spreadsheet.

A cell that begins with = + - @ (or a tab or carriage return) would be read as a formula
by Excel or LibreOffice: such cells get a leading apostrophe, as OWASP recommends.
"""

from collections.abc import Iterable, Iterator

from samverkan.cases.models import Case
from samverkan.cases.status import label
from samverkan.catalogue.engine import ServiceForm
from samverkan.catalogue.fields import localized
from samverkan.templating import local_datetime

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HEADER = [
    "Ärende",
    "E-tjänst",
    "Status",
    "Inkommet",
    "Handläggare",
    "Kanal",
    "Senast ändrat",
    "Svar",
]


def neutralise(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def answers_text(form: ServiceForm, case: Case) -> str:
    """The citizen's answers as one cell: 'Fråga: svar' per line."""
    lines = []
    for step in form.summary(form.from_json(case.answers)):
        lines.extend(f"{row['label']}: {row['value']}" for row in step["rows"] if row["value"])
    return "\n".join(lines)


def csv_rows(cases: Iterable[Case]) -> Iterator[list[str]]:
    yield HEADER
    forms: dict[int, ServiceForm] = {}
    for case in cases:
        form = forms.get(case.definition_id)
        if form is None:
            form = forms[case.definition_id] = ServiceForm(case.definition.content, {})
        yield [
            neutralise(cell)
            for cell in (
                case.reference,
                localized(case.definition.content["title"], "sv"),
                label(case.status, staff=True),  # the staff's words, as in the inbox
                local_datetime(case.submitted_at, "sv"),
                case.assigned_to.name if case.assigned_to else "",
                case.channel,
                local_datetime(case.updated_at, "sv"),
                answers_text(form, case),
            )
        ]
