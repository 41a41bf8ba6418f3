"""`Idempotency-Key` on `POST /orders`: a client that retries an ambiguous answer (a 5xx, a
timeout, a dropped connection) places one order, not two.

Semantics are the IETF draft's (draft-ietf-httpapi-idempotency-key-header-06,
https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/):

- the key is a Structured Field string (RFC 8941 §3.3.3: `"…"`, printable ASCII, `\\"` and
  `\\\\` escaped); a bare token of the same characters is taken too, as most clients send
  one; anything else, or longer than `MAX_KEY_LENGTH`, is 400;
- the same key with the same request → the first answer again (202, the same order), marked
  `Idempotent-Replayed: true`; the same key with another request → 422;
- the key is optional: without it, each POST places an order, as before.

How: the order's id is derived from the key, so the order's own conditional write (one put,
`attribute_not_exists`) is where the key is claimed — no second table, no window between a
claim and the order in which a crash could leave one without the other. Two requests racing
with one key both end on the one order: the loser's write fails and it answers from the
winner's record, so the draft's 409 (a request still in progress) never arises. The record
keeps a fingerprint of what the request asked for — customer, lines and the card's vault
token, never the card number — to tell "the same request" from another one. A key is
remembered as long as its order.

Keys are global, not per client: this API has no client identity. Two clients that pick the
same key collide (the second gets 422, or the first's answer if its request was identical),
which is why keys must be unguessable — a UUID, as the draft recommends.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# RFC 8941 sf-string: DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE, unescaped being
# %x20-21 / %x23-5B / %x5D-7E.
_SF_STRING = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')
_BARE = re.compile(r"[\x21-\x7e]+")


class InvalidKey(ValueError):
    pass


def key_parse(header: str) -> str:
    """The key an `Idempotency-Key` header carries; InvalidKey says why there is none."""
    value = header.strip()
    quoted = _SF_STRING.fullmatch(value)
    if quoted is not None:
        key = re.sub(r"\\(.)", r"\1", quoted.group(1))
    elif _BARE.fullmatch(value) and '"' not in value:
        key = value
    else:
        raise InvalidKey("the Idempotency-Key must be a string of printable ASCII "
                         '(a Structured Field string, such as "8e03978e-40d5-43e8-bc93-6894a57f9324")')
    if not key:
        raise InvalidKey("the Idempotency-Key is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"the Idempotency-Key is longer than {MAX_KEY_LENGTH} characters")
    return key


def order_id_for(key: str) -> str:
    """The id of the order a key places: the same for every request carrying that key."""
    return "ord-" + hashlib.sha256(f"idempotency-key:{key}".encode()).hexdigest()[:12]


def fingerprint(order: dict[str, Any]) -> str:
    """What an `order.placed`'s order asked for, as a digest: customer, lines and card token
    (not its id, time or correlation, which differ on every attempt)."""
    asked = {"customerId": order["customerId"], "lines": order["lines"],
             "token": order["paymentMethod"]["token"]}
    return hashlib.sha256(json.dumps(asked, sort_keys=True, separators=(",", ":")).encode()
                          ).hexdigest()
