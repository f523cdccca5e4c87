"""Error masking covers every result a client is sent, subscription events included."""
from graphql import GraphQLError
from strawberry.types import ExecutionResult

from schema.extensions import MaskInternalErrors


def test_an_internal_error_in_a_subscription_event_is_masked_before_it_is_sent() -> None:
    internal = GraphQLError("boom", path=["certificationStatusChanged", "factory"],
                           original_error=RuntimeError('relation "secret" does not exist'))
    denied = GraphQLError("You need PROFILE to see this field.",
                          extensions={"code": "FORBIDDEN", "requiredScope": "PROFILE"})
    result = ExecutionResult(data=None, errors=[internal, denied])
    hook = MaskInternalErrors().on_stream_result(result)
    next(hook)  # the part that runs before the result is handed to the socket
    assert result.errors is not None
    masked, kept = result.errors
    assert masked.message == "Internal server error."
    assert masked.extensions is not None
    assert masked.extensions["code"] == "INTERNAL_SERVER_ERROR" and masked.extensions["errorId"]
    assert masked.path == ["certificationStatusChanged", "factory"]
    assert "secret" not in str(masked.formatted)
    assert kept is denied
