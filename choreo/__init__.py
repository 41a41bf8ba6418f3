"""The composition root: the one package that wires the local system (`local`) and the
dashboard (`dashboard`) together, so that neither adapter has to import the other. Nothing
imports this package; `python -m choreo up` (what `make up` runs) starts from it."""
