"""Fuzzing the CRM API (crm_api, FastAPI) over HTTP from its own OpenAPI spec, with schemathesis, plus raw
requests the spec cannot describe (broken JSON, oversized and deeply nested bodies, wrong content types,
odd paths and methods).

The API runs under uvicorn on a seeded SQLite CRM with its relationship history and profile. Every operation
gets valid and invalid data (schemathesis's positive and negative modes, a fixed seed), with the bearer token,
without it and with a wrong one. Every answer must be a non-5xx that the spec documents (status code,
content type, body schema).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm_api import create_app
from history.timeline import SqlHistoryService
from relationship.service import SqlRelationshipService
from tests.asgi_server import serve
from tests.conftest import sql_crm_at
from tests.fuzz.conftest import FuzzCounts
from tests.fuzz.hostile import ALL_TEXTS, deep, random_json_value, random_text

pytestmark = pytest.mark.fuzz
TARGET = "CRM API"
TOKEN = "a-crm-api-token-for-the-fuzz-tests"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# examples per operation: (generation mode, Authorization header, max_examples)
RUNS = [
    (schemathesis.GenerationMode.POSITIVE, f"Bearer {TOKEN}", 30),
    (schemathesis.GenerationMode.NEGATIVE, f"Bearer {TOKEN}", 30),
    (schemathesis.GenerationMode.POSITIVE, None, 4),
    (schemathesis.GenerationMode.NEGATIVE, None, 3),
    (schemathesis.GenerationMode.POSITIVE, "Bearer not-the-token", 3),
]


@pytest.fixture(scope="module")
def crm_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sql_crm_at(f"sqlite:///{tmp_path_factory.mktemp('crm-api') / 'crm.db'}", 20, "fuzz-secret") as crm:
        history, relationship = SqlHistoryService(crm.sessions), SqlRelationshipService(crm.sessions, "fuzz-secret")
        with serve(create_app(crm.service, TOKEN, history, relationship)) as base:
            yield base


def test_every_operation_of_the_spec_survives_schemathesis(crm_api: str, fuzz_counts: FuzzCounts) -> None:
    started, before = time.monotonic(), fuzz_counts.count(TARGET)
    schema = schemathesis.openapi.from_url(crm_api + "/openapi.json")
    session = requests.Session()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 19  # every route of docs/crm-rest-contract.md

    for operation in operations:
        for mode, authorization, examples in RUNS:
            headers = {"Authorization": authorization} if authorization else {}
            fuzz_operation(crm_api, session, operation, mode, headers, examples, fuzz_counts, failures)
    fuzz_counts.timed(TARGET, time.monotonic() - started)

    assert not failures, f"{len(failures)} failed checks, the first:\n" + "\n".join(failures[:5])
    assert fuzz_counts.count(TARGET) - before >= 1200


def fuzz_operation(
    base_url: str,
    session: requests.Session,
    operation: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    headers: dict[str, str],
    examples: int,
    fuzz_counts: FuzzCounts,
    failures: list[str],
) -> None:
    """`examples` cases of one operation, the same ones every run, each sent and checked against the spec."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        derandomize=True,  # the same cases on every run
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def call(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        fuzz_counts.record(TARGET, response.status_code)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except AssertionError as failure:
            failures.append(f"{operation.label} ({mode.value}): {str(failure)[:600]}")

    call()


def raw_requests(rng: random.Random) -> Iterator[tuple[str, str, bytes, dict[str, str]]]:
    """(method, path, body, headers) that no client generated from the spec would send."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    as_json = {**auth, "Content-Type": "application/json"}
    bodies = ["/v1/verifications/order", "/v1/verifications/code", "/v1/tickets"]
    bodies += ["/v1/customers/cus_demo_anna/orders/JH100001/returns"]
    for path in bodies:
        for text in ALL_TEXTS:
            yield "POST", path, text.encode(), as_json
        for _ in range(60):
            yield "POST", path, bytes(rng.randrange(256) for _ in range(rng.randint(0, 300))), as_json
        for _ in range(60):
            yield "POST", path, json.dumps(random_json_value(rng)).encode(), as_json
        for depth in (100, 1000, 10_000, 100_000):
            yield "POST", path, deep(depth).encode(), as_json
            yield "POST", path, ("[" * depth + "]" * depth).encode(), as_json
        yield "POST", path, b'{"email": "' + b"a" * 300_000 + b'"}', as_json  # over the 256 KB limit
        yield "POST", path, b'{"email": "a\xff\xfe@example.com", "order_number": "JH100001"}', as_json
        yield "POST", path, b'{"email": "\\ud800@example.com", "order_number": "JH100001"}', as_json
        yield "POST", path, b'{"email": "a\\u0000@example.com", "order_number": "JH\\u0000100001"}', as_json
        yield "POST", path, b'{"email": 1e999, "order_number": NaN}', as_json
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "", "*/*"):
            yield "POST", path, b'{"email": "anna.berg@example.com"}', {**auth, "Content-Type": content_type}
    # path segments and query strings
    for text in [*ALL_TEXTS, *(random_text(rng, 80) for _ in range(150))]:
        segment = requests.utils.quote(text, safe="")
        yield "GET", f"/v1/customers/{segment}", b"", auth
        yield "GET", f"/v1/identities/{segment}/{segment}", b"", auth
        yield "GET", f"/v1/customers/cus_demo_anna/timeline?cursor={segment}&limit={segment}", b"", auth
    for raw_segment in ("%ED%A0%80", "%FF%FE", "%00", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "a" * 5000, "%C0%AF"):
        yield "GET", f"/v1/customers/{raw_segment}", b"", auth
        yield "PUT", f"/v1/identities/rest/{raw_segment}", b'{"customer_id": "cus_demo_anna"}', as_json
    for number in ("0", "-1", "9" * 30, "1e3", "0x10", "NaN", "Infinity", " 1", "1.0"):
        yield "GET", f"/v1/customers/cus_demo_anna/conversations/{number}", b"", auth
        yield "GET", f"/v1/customers/cus_demo_anna/orders?limit={number}", b"", auth
    # wrong methods, unknown paths, broken authorization
    for method in ("PATCH", "DELETE", "PUT", "TRACE", "OPTIONS", "FOO"):
        for path in ("/v1/tickets", "/v1/customers/cus_demo_anna", "/v1/verifications/order", "/v1", "/"):
            yield method, path, b"{}", as_json
    for value in ("Bearer", "Bearer ", "Basic " + TOKEN, TOKEN, "Bearer " + TOKEN + "x", "Bearer " + "t" * 10_000):
        yield "GET", "/v1/customers/cus_demo_anna", b"", {"Authorization": value}


def test_raw_hostile_requests_get_documented_errors(crm_api: str, fuzz_counts: FuzzCounts) -> None:
    started, before = time.monotonic(), fuzz_counts.count(TARGET)
    session = requests.Session()
    unexpected = []
    for method, path, body, headers in raw_requests(random.Random(20261125)):
        response = session.request(method, crm_api + path, data=body, headers=headers, timeout=30)
        fuzz_counts.record(TARGET, response.status_code)
        if response.status_code >= 500:
            unexpected.append((method, path[:80], body[:80], response.status_code, response.text[:200]))
        elif response.status_code >= 400 and method not in ("HEAD", "FOO"):  # uvicorn itself refuses FOO
            error = response.json().get("error", {})  # every error leaves as {"error": {code, message, field}}
            if not (isinstance(error, dict) and error.get("code") and error.get("message")):
                unexpected.append((method, path[:80], body[:80], response.status_code, response.text[:200]))
    fuzz_counts.timed(TARGET, time.monotonic() - started)

    assert not unexpected, f"{len(unexpected)} unexpected answers, the first: {unexpected[:5]}"
    assert fuzz_counts.count(TARGET) - before >= 1200
