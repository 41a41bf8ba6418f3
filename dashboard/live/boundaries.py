"""Accounts and regions on the graph: where each part of the choreography runs, drawn as a
labelled outline around the subdomains placed there.

Where a subdomain runs is a deployment setting read against the model
(`workflow.placement.Placements`); the dashboard is told the same settings the deployment was
made with (`CHOREO_SUBDOMAIN_ACCOUNTS`, `CHOREO_REPLICA_REGION`, see `dashboard/settings.py`),
and takes the home account and region from the home stack's `Account` and `Region` outputs
(`dashboard.shared.placements`). With none of them everything is in one place and nothing is
drawn: the picture is the one it always was.

An area (a subdomain, or the observability) is where its subdomain is placed; the
observability is in the home account. In each row of areas, neighbours placed alike share
one outline, so a row reads left to right as runs of accounts: the home account's outline
around its runs too whenever there is more than one account. The outline keeps inside the
gap that separates areas, and its label sits on its edge away from the bus (above the top
row, below the bottom one), where no line or label of the graph runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from workflow.model import CHOREOGRAPHY, Choreography, Subdomain
from workflow.placement import Placement, Placements
from workflow.topology import REPLICA

BOUNDARY_PAD = 8  # between an area and its account's outline: less than half the areas' gap
LABEL_CHAR_W = 7.2  # a 12px monospace font is 0.6 em wide per character
LABEL_INSET = 14  # from the outline's corner to the label's end
LABEL_PAD = 4  # the gap cut in the outline either side of its label


def placement_label(where: Placement, *, home: bool) -> str:
    """What an outline says: the account and the region (and which is home)."""
    text = f"{where.account or 'this account'} · {where.region or 'this region'}"
    return f"home {text}" if home else text


def label_width(text: str) -> float:
    return round(len(text) * LABEL_CHAR_W, 1)


@dataclass
class Boundary:
    """An account and region's outline around neighbouring areas of one row."""

    id: str
    label: str
    detail: str
    account: str
    region: str
    home: bool
    areas: list[str]
    x: float
    y: float
    w: float
    h: float
    label_x: float  # where the label ends (it is right-aligned)
    label_y: float  # the edge it sits on
    label_w: float

    @property
    def label_left(self) -> float:
        return self.label_x - self.label_w


class _Framed(Protocol):
    """What the layout of boundaries needs of an area."""

    id: str
    x: float
    y: float
    w: float
    h: float


def area_placement(area_id: str, placements: Placements, model: Choreography) -> Placement:
    """Where an area runs: its subdomain's placement; anything else (the observability) is
    in the home account."""
    if area_id == REPLICA and placements.replica_region:
        return Placement(placements.home.account, placements.replica_region)
    known = {subdomain.value: subdomain for subdomain in model.subdomains()}
    subdomain: Subdomain | None = known.get(area_id)
    return placements.of_subdomain(subdomain)


Box = tuple[float, float, float, float]
"""x1, y1, x2, y2"""


def boundaries_layout(areas: Sequence[_Framed], bar_y: float, placements: Placements,
                      model: Choreography = CHOREOGRAPHY, avoid: Sequence[Box] = ()) -> list[Boundary]:
    """One outline per run of neighbouring areas in a row placed alike; none when the
    choreography runs in one account and region. An outline's outer edge steps past the
    captions in `avoid` (the line from the customer to the API has one above the top row)."""
    if not placements.subdomains and not placements.replica_region:
        return []
    boundaries: list[Boundary] = []
    for above in (True, False):
        row = sorted((area for area in areas if (area.y < bar_y) == above), key=lambda a: a.x)
        runs: list[tuple[Placement, list[_Framed]]] = []
        for area in row:
            where = area_placement(area.id, placements, model)
            if runs and runs[-1][0] == where:
                runs[-1][1].append(area)
            else:
                runs.append((where, [area]))
        for where, members in runs:
            boundaries.append(_outline(where, members, above=above, placements=placements,
                                       model=model, index=len(boundaries), avoid=avoid))
    return boundaries


def _clear_of(edge: float, x1: float, x2: float, avoid: Sequence[Box], *, upwards: bool) -> float:
    """The outer edge at `edge`, moved (up, or down) past each caption it would cut."""
    for bx1, by1, bx2, by2 in sorted(avoid, key=lambda box: -box[3] if upwards else box[1]):
        if bx1 < x2 and x1 < bx2 and by1 - 3 < edge < by2 + 3:
            edge = by1 - 3 if upwards else by2 + 3
    return edge


def _outline(where: Placement, members: list[_Framed], *, above: bool, placements: Placements,
             model: Choreography, index: int, avoid: Sequence[Box]) -> Boundary:
    x1 = min(area.x for area in members) - BOUNDARY_PAD
    x2 = max(area.x + area.w for area in members) + BOUNDARY_PAD
    y1 = min(area.y for area in members) - BOUNDARY_PAD
    y2 = max(area.y + area.h for area in members) + BOUNDARY_PAD
    if above:
        y1 = _clear_of(y1, x1, x2, avoid, upwards=True)
    else:
        y2 = _clear_of(y2, x1, x2, avoid, upwards=False)
    home = where == placements.home
    label = placement_label(where, home=home)
    names = [area.id for area in members]
    subdomains = [name for name in names if name in {s.value for s in model.subdomains()}]
    held = ", ".join(name.title() for name in names)
    detail = (f"AWS account {where.account or '(this one)'}, region {where.region or '(this one)'}"
              f": {held}")
    if home and placements.replica_region and len(subdomains) < len(names):
        detail += f"; the observability is replicated to {placements.replica_region}"
    return Boundary(
        id=f"boundary-{index}", label=label, detail=detail, account=where.account or "",
        region=where.region or "", home=home, areas=names,
        x=round(x1, 1), y=round(y1, 1), w=round(x2 - x1, 1), h=round(y2 - y1, 1),
        label_x=round(x2 - LABEL_INSET, 1), label_y=round(y1 if above else y2, 1),
        label_w=label_width(label))
