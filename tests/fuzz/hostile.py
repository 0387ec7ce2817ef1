"""Hostile inputs, the same on every run: fixed lists plus values drawn from seeded generators."""

from __future__ import annotations

import random
from collections.abc import Iterator

# Shown to a person somewhere (a console page, the chat widget): each sets window.__pwned if it ever runs.
SCRIPT_PAYLOADS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    "<svg onload=window.__pwned=1>",
    '"><script>window.__pwned=1</script>',
    "'><img src=x onerror=window.__pwned=1>",
    "</td></tr></table><script>window.__pwned=1</script>",
    "</textarea><script>window.__pwned=1</script>",
    '<a href="javascript:window.__pwned=1">click me</a>',
    "[click me](javascript:window.__pwned=1)",
    '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
    "{{7*7}} ${7*7} <%= 7*7 %>",
    '<details open ontoggle="window.__pwned=1">',
    "<body onload=window.__pwned=1>",
    '<math><mtext><table><mglyph><style><img src=x onerror="window.__pwned=1">',
]

SQL_PAYLOADS = [
    "' OR '1'='1",
    "'; DROP TABLE customers; --",
    '" OR ""="',
    "1; SELECT * FROM agents --",
    "' UNION SELECT password_hash FROM agents --",
    "admin'--",
    "1' AND SLEEP(5) --",
    "%' OR 1=1 --",
    "\\'; DELETE FROM events; --",
    "JH100001' OR 1=1 --",
]

OTHER_PAYLOADS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x00" * 100,
    "\r\n\r\nHTTP/1.1 200 OK\r\nSet-Cookie: x=y",
    "\x1b[31mred\x1b[0m",
    "\x7f\x08\x07",
    "\u202eevil\u202c",
    "\u200b\u200c\u200d\ufeff",
    "\ufffd\uffff",
    "👩‍👩‍👧‍👦" * 50,
    "Z̸̡̢͔̝̪̰̖̠͚̩̩̳̮̥̼̿͂͋̀̾͆̎͛͘͝a̸l̸g̸o̸",
    "../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%00",
    "%s%s%s%n%x",
    "{0.__class__.__mro__}",
    "${jndi:ldap://127.0.0.1/a}",
    "null",
    "undefined",
    "NaN",
    "-1",
    "0",
    "9" * 40,
    "1e999",
    "true",
    "[]",
    "{}",
    '{"a": 1}',
    "/restart",
    "/greet",
    '/inform{"email": "anna.berg@example.com"}',
    "/nlu_fallback",
    "anna.berg@example.com",
    "JH100001",
    "x" * 4999,
]

ALL_TEXTS = SCRIPT_PAYLOADS + SQL_PAYLOADS + OTHER_PAYLOADS

_ALPHABET = (
    [chr(c) for c in range(0x00, 0x20)]
    + list("abcXYZ019 <>&'\"/\\;%{}[]()=-_.,:!?*#@$^`|~+")
    + ["\u00e9", "\u4e2d", "\u0627", "\u202e", "\u200b", "\ufeff", "\U0001f600", "\u0301", "\u2028", "\u2029"]
)


def random_text(rng: random.Random, max_length: int = 200) -> str:
    """A string of control characters, markup, quotes and unusual Unicode (never an unpaired surrogate)."""
    length = rng.choice([0, 1, 2, 5, 20, max_length, rng.randint(0, max_length)])
    if rng.random() < 0.3:
        return "".join(rng.choice(ALL_TEXTS) for _ in range(rng.randint(1, 3)))[:max_length]
    return "".join(rng.choice(_ALPHABET) for _ in range(length))


def random_json_value(rng: random.Random, depth: int = 0) -> object:
    """Any JSON value: wrong types for fields that expect a string."""
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2**31, -(2**63), 2**64, 10**30])
    if kind == 3:
        return rng.choice([0.0, -0.0, 1.5, 1e308, -1e-308])
    if kind in (4, 5):
        return random_text(rng)
    if kind in (6, 7):
        return [random_json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {random_text(rng, 20): random_json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def texts(seed: int, count: int, max_length: int = 200) -> Iterator[str]:
    rng = random.Random(seed)
    for _ in range(count):
        yield random_text(rng, max_length)


def deep(depth: int, leaf: str = "1") -> str:
    """A JSON text nested `depth` levels deep."""
    return '{"a":' * depth + leaf + "}" * depth
