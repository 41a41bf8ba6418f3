"""Money as integer minor units with an ISO 4217 currency: never a float."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("money is an integer number of minor units")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError(f"not an ISO 4217 currency code: {self.currency!r}")

    def __mul__(self, quantity: int) -> Money:
        return Money(self.amount * quantity, self.currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def to_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "currency": self.currency}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Money:
        return cls(int(value["amount"]), str(value["currency"]))

    def __str__(self) -> str:
        return f"{self.amount / 100:.2f} {self.currency}"


# ISO 4217 minor units: how many decimal places each currency's amounts have. A currency not
# named here has two, as most do.
MINOR_UNITS: dict[str, int] = {"JPY": 0, "KRW": 0, "ISK": 0, "BHD": 3, "KWD": 3, "OMR": 3,
                               "TND": 3, "JOD": 3}


def minor_units(currency: str) -> int:
    return MINOR_UNITS.get(currency, 2)


def decimal_text(money: Money) -> str:
    """An amount as a decimal string with its currency's places: 2400 GBP is "24.00"."""
    places = minor_units(money.currency)
    if places == 0:
        return str(money.amount)
    whole, fraction = divmod(money.amount, 10 ** places)
    return f"{whole}.{fraction:0{places}d}"


def from_decimal_text(value: str, currency: str) -> Money:
    """The inverse of `decimal_text`: "24.00" GBP is 2400 minor units. A value with more places
    than its currency has is refused rather than rounded."""
    places = minor_units(currency)
    whole, _, fraction = value.partition(".")
    # str.isdigit() alone takes "²" (which int() refuses) and Arabic-Indic digits
    if not (value.isascii() and whole.isdigit()) or (fraction and not fraction.isdigit()) \
            or len(fraction) > places:
        raise ValueError(f"not an amount of {currency}: {value!r}")
    return Money(int(whole) * 10 ** places + int(fraction.ljust(places, "0") or 0), currency)
