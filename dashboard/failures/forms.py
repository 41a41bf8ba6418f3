"""The chaos knobs' form, on the failures page beside what the knobs put in the queues."""

from __future__ import annotations

from django import forms

from dashboard.shared.problems import Problem


class ChaosForm(forms.Form):
    """The local runtime's chaos knobs. Like the order form, it checks only that each is a
    number; the runtime judges the values, and its problem details are shown next to the
    knob they name."""

    duplicate_rate = forms.FloatField(
        label="Duplicate rate", widget=forms.NumberInput(attrs={"min": 0, "max": 1, "step": 0.05}),
        help_text="0 to 1 · share of batches delivered twice: idempotency must absorb them")
    failure_rate = forms.FloatField(
        label="Failure rate", widget=forms.NumberInput(attrs={"min": 0, "max": 1, "step": 0.05}),
        help_text="0 to 1 · share of invocations failed before the handler runs: retried, then "
                  "dead-lettered")
    jitter_seconds = forms.FloatField(
        label="Jitter (seconds)", widget=forms.NumberInput(attrs={"min": 0, "max": 30, "step": 0.5}),
        help_text="0 to 30 · deliveries held back up to this long: events arrive out of order")
    poison_rate = forms.FloatField(
        label="Poison rate", widget=forms.NumberInput(attrs={"min": 0, "max": 1, "step": 0.05}),
        help_text="0 to 1 · share of events that fail on every delivery until switched off: they "
                  "end in a dead-letter queue")

    KNOBS = ("duplicate_rate", "failure_rate", "jitter_seconds", "poison_rate")

    def add_problem(self, problem: Problem) -> None:
        """The runtime names the knob at fault in its detail (`poison_rate must be ...`)."""
        text = problem.detail or problem.title
        for name in self.KNOBS:
            if name in text:
                self.add_error(name, text)
                return
        self.add_error(None, f"{problem.title}: {problem.detail}" if problem.detail else problem.title)
