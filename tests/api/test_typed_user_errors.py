"""Each payload answers its userErrors twice: `userErrors` with the contract's String code, and
its family's typed list (e.g. `connectionUserErrors`) with the code as the family's enum."""
import httpx

from tests.helpers import Cast, gql

REQUEST = """
mutation($factoryId: ID!) {
  requestConnection(input: {factoryId: $factoryId, scopes: []}) {
    userErrors { field message code }
    connectionUserErrors { field message code }
  }
}
"""
UNLISTED = """
mutation($factoryId: ID!) {
  requestConnection(input: {factoryId: $factoryId, scopes: [PROFILE]}) {
    connection { id }
    connectionUserErrors { code field }
  }
}
"""
CREATE_KEY = """
mutation { createApiKey(input: {name: "ERP", role: ADMIN}) {
  apiKey { id } apiKeyUserErrors { code field } } }
"""
LOGIN = """
mutation { login(input: {email: "nobody@example.com", password: "not-the-password"}) {
  accessToken accountUserErrors { code } } }
"""


async def test_the_typed_list_holds_the_same_errors_as_user_errors(
        client: httpx.AsyncClient, cast: Cast) -> None:
    body = await gql(client, REQUEST, cast.token("customer_a_user"),
                     factoryId=cast.factory_gid("alpha"))
    payload = body["data"]["requestConnection"]
    assert payload["userErrors"] == payload["connectionUserErrors"] == [
        {"field": ["scopes"], "message": "Name at least one scope.", "code": "VALIDATION"}]


async def test_typed_codes_of_several_families(client: httpx.AsyncClient, cast: Cast) -> None:
    body = await gql(client, UNLISTED, cast.token("customer_a_user"),
                     factoryId=cast.factory_gid("hidden"))
    assert body["data"]["requestConnection"] == {"connection": None, "connectionUserErrors": [
        {"code": "NOT_FOUND", "field": ["factoryId"]}]}
    body = await gql(client, CREATE_KEY, cast.token("customer_a_user"))
    assert body["data"]["createApiKey"] == {"apiKey": None, "apiKeyUserErrors": [
        {"code": "ROLE_ABOVE_CREATOR", "field": ["role"]}]}
    body = await gql(client, LOGIN)
    assert body["data"]["login"] == {"accessToken": None, "accountUserErrors": [
        {"code": "INVALID_CREDENTIALS"}]}


async def test_a_success_has_an_empty_typed_list(client: httpx.AsyncClient, cast: Cast) -> None:
    body = await gql(client, UNLISTED, cast.token("customer_a_user"),
                     factoryId=cast.factory_gid("alpha"))
    assert body["data"]["requestConnection"]["connectionUserErrors"] == []
    assert body["data"]["requestConnection"]["connection"]["id"]
