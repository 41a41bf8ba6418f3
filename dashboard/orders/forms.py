"""The place-order form. It checks only what HTML cannot (whole numbers, a card chosen); the
order API judges the order and its problem details are shown next to the fields."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django import forms

from dashboard.orders.services import OrderLine
from dashboard.shared.problems import Problem
from workflow.domain.payment import DECLINING_TEST_CARD, GOOD_TEST_CARD


def spaced(card_number: str) -> str:
    """A card number as it is printed: in groups of four."""
    return " ".join(card_number[start:start + 4] for start in range(0, len(card_number), 4))


GOOD_CARD = spaced(GOOD_TEST_CARD)
DECLINING_CARD = spaced(DECLINING_TEST_CARD)
CARD_CHOICES = [
    ("good", f"Good card · {GOOD_CARD}"),
    ("declining", f"Declining test card · {DECLINING_CARD}"),
    ("custom", "Another card number"),
]
_ITEM_FIELD = re.compile(r"^items\[(\d+)\]")


def quantity_field_name(sku: str) -> str:
    return f"qty_{sku}"


class OrderForm(forms.Form):
    customer_id = forms.CharField(label="Customer id", required=False, max_length=200,
                                  initial="demo-customer")
    card = forms.ChoiceField(choices=CARD_CHOICES, initial="good", widget=forms.RadioSelect)
    # Never written back into the page (_order_form.html): a card number entered once is not
    # in the HTML of the answer, nor in a cached copy of it, when the form comes back.
    card_number = forms.CharField(label="Card number", required=False, max_length=40)
    # One per form shown, sent as the order's Idempotency-Key: a double click, or a submit
    # retried after an answer that never came, places the order once.
    request_key = forms.RegexField(regex=r"^[0-9a-f-]{36}$", required=False,
                                   widget=forms.HiddenInput, initial=lambda: str(uuid.uuid4()))

    def __init__(self, *args: Any, products: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.products = products
        for index, product in enumerate(products):
            self.fields[quantity_field_name(str(product.get("sku", "")))] = forms.IntegerField(
                label=str(product.get("name", "")), required=False, min_value=0,
                initial=1 if index == 0 else 0)
        # Lines as sent, so that the API's `items[i]` points back at a product's field.
        self.sent_skus: list[str] = []

    def product_rows(self) -> list[tuple[dict[str, Any], forms.BoundField]]:
        return [(product, self[quantity_field_name(str(product.get("sku", "")))])
                for product in self.products]

    def lines(self) -> list[OrderLine]:
        lines = []
        for product in self.products:
            sku = str(product.get("sku", ""))
            quantity = self.cleaned_data.get(quantity_field_name(sku)) or 0
            if quantity > 0:
                lines.append(OrderLine(sku=sku, quantity=quantity))
        self.sent_skus = [line.sku for line in lines]
        return lines

    def card_value(self) -> str:
        choice = self.cleaned_data.get("card")
        if choice == "good":
            return GOOD_CARD
        if choice == "declining":
            return DECLINING_CARD
        return str(self.cleaned_data.get("card_number") or "")

    def add_problem(self, problem: Problem) -> None:
        """Put each of the API's field errors next to the field it names."""
        placed = False
        for error in problem.errors:
            field = self._field_for(error.field)
            self.add_error(field, error.message if field else
                           f"{error.field}: {error.message}" if error.field else error.message)
            placed = True
        if not placed:
            self.add_error(None, f"{problem.title}: {problem.detail}" if problem.detail
                           else problem.title)

    def _field_for(self, api_field: str) -> str | None:
        if api_field == "customerId":
            return "customer_id"
        if api_field.startswith("card"):
            return "card_number" if self.cleaned_data.get("card") == "custom" else "card"
        found = _ITEM_FIELD.match(api_field)
        if found and int(found.group(1)) < len(self.sent_skus):
            return quantity_field_name(self.sent_skus[int(found.group(1))])
        return None
