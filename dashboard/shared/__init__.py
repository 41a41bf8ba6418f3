"""What every feature of the dashboard may use, and that imports none of them: problem
details, who may act, links to an order, who a request comes from, and where each part of
the system runs."""
