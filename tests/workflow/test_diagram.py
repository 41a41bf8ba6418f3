from __future__ import annotations

from pathlib import Path

from workflow.diagram import mermaid
from workflow.model import CHOREOGRAPHY

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_route_is_an_edge_of_the_diagram():
    diagram = mermaid()
    for route in CHOREOGRAPHY.routes:
        assert f'-- "{route.event}" -->' in diagram


def test_the_readme_shows_the_model_as_it_is():
    """Regenerate with `python -m workflow.diagram` when the model changes."""
    assert mermaid() in README.read_text()
