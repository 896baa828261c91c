"""The circuit's states, without a network: what opens it, what closes it, what passes."""

from __future__ import annotations

import pytest

from bridge.http.circuit import Circuit
from bridge.http.errors import ApiError, CircuitOpen
from bridge.providers.story import errors as story_errors


class TestCircuit:
    def test_an_account_level_answer_opens_it_and_later_calls_fail_fast(self) -> None:
        """The opening answer itself becomes CircuitOpen (retryable), so a durable command is held."""
        circuit = Circuit("story")
        revoked = story_errors.from_response(
            401, {"error": {"code": "api_key_revoked", "message": "revoked"}}
        )
        raised = circuit.observe(revoked)
        assert isinstance(raised, CircuitOpen)
        assert raised.code == "api_key_revoked" and raised.retryable and raised.pauses_polling
        assert circuit.is_open and circuit.paused("story") and not circuit.paused("syllaby")
        with pytest.raises(CircuitOpen):
            circuit.check()
        with circuit.probing():
            circuit.check()  # the probe goes through

    def test_other_errors_leave_it_alone(self) -> None:
        circuit = Circuit("story")
        scope = story_errors.from_response(
            403, {"error": {"code": "insufficient_scope", "message": "scope"}}
        )
        assert circuit.observe(scope) is scope and not circuit.is_open

    def test_only_a_probe_answer_that_judges_the_request_closes_it(self) -> None:
        """A late answer to a request sent before the revocation cannot close it (no flapping);
        a probe's 5xx or 429 says nothing of the key; a probe's 404 (or success) closes it."""
        circuit = Circuit("story")
        circuit.observe(ApiError("gone", code="account_disabled", status=403, account_level=True))
        assert circuit.is_open
        circuit.observe(None)  # a success that was already in flight
        assert circuit.is_open
        with circuit.probing():
            for unjudged in (500, 429, 408):
                circuit.observe(ApiError("x", code="internal_error", status=unjudged))
                assert circuit.is_open
            circuit.observe(ApiError("missing", code="project_not_found", status=404))
        assert not circuit.is_open
