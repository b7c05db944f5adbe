"""The API fuzzed against its own OpenAPI document (schemathesis): no request makes it fail with a 500.

Every operation of the document, valid and invalid inputs, as an administrator (the widest scope) on the
two-region world; a bounded number of examples per operation keeps the run well under a minute.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from .world import World

#: Examples per operation: valid inputs, then invalid ones.
EXAMPLES = {GenerationMode.POSITIVE: 4, GenerationMode.NEGATIVE: 3}


@pytest.mark.slow
def test_no_request_makes_the_api_fail(app: FastAPI, world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = world.auth("admin")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES[mode], deadline=None, suppress_health_check=list(HealthCheck),
                      derandomize=True, database=None)
            def fuzz(case) -> None:  # type: ignore[no-untyped-def]
                case.call_and_validate(headers=headers, checks=[not_a_server_error])

            try:
                fuzz()
            except Unsatisfiable:  # nothing to make invalid (no parameters or body): the positive run covers it
                pass
            except Exception as exc:  # collect every failing operation, then report them together
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:1500]}")
    assert operations >= 15
    assert not failures, "\n\n".join(failures)
