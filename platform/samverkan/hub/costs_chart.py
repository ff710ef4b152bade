"""The geometry of the key comparison's bar chart, drawn by the template as inline SVG:
two horizontal bars per member (key a above key b), on one scale. No script, no library;
the table beside it carries the same figures for anyone who cannot see the chart."""

from dataclasses import dataclass

LABEL_WIDTH = 190  # member names, left of the bars
BAR_AREA = 330
VALUE_GAP = 6  # between a bar's end and its amount
WIDTH = LABEL_WIDTH + BAR_AREA + 130
BAR_HEIGHT = 12
BAR_GAP = 3
GROUP_GAP = 14
TOP = 44  # room for the legend


@dataclass(frozen=True)
class Bar:
    y: int
    width: float
    value_x: float
    text: str  # the amount, as shown


@dataclass(frozen=True)
class Group:
    name: str
    label_y: int
    a: Bar
    b: Bar
    description: str  # the group's accessible name


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    label_width: int
    bar_height: int
    groups: list[Group]


def comparison_chart(rows, amount_text, label_a: str, label_b: str) -> Chart:
    """rows: (member name, öre under a, öre under b). `amount_text` formats öre."""
    largest = max([max(a, b) for _, a, b in rows] + [1])
    groups = []
    y = TOP
    for name, ore_a, ore_b in rows:
        bars = []
        for index, ore in enumerate((ore_a, ore_b)):
            top = y + index * (BAR_HEIGHT + BAR_GAP)
            width = round(BAR_AREA * ore / largest, 1)
            bars.append(Bar(top, width, LABEL_WIDTH + width + VALUE_GAP, amount_text(ore)))
        groups.append(
            Group(
                name=name,
                label_y=y + BAR_HEIGHT + BAR_GAP // 2,
                a=bars[0],
                b=bars[1],
                description=f"{name}: {label_a} {bars[0].text}, {label_b} {bars[1].text}",
            )
        )
        y += 2 * BAR_HEIGHT + BAR_GAP + GROUP_GAP
    return Chart(WIDTH, y, LABEL_WIDTH, BAR_HEIGHT, groups)
