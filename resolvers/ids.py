"""Opaque global IDs: base64url("Type:pk"). A decoded ID names its type, so an ID of one type
never resolves as another."""
import base64
import binascii


def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_id(global_id: str) -> tuple[str, int] | None:
    """(type name, primary key), or None for anything that is not one of our IDs."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, pk = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        if not type_name.isidentifier() or not pk.isdigit() or len(pk) > 18:
            return None
        return type_name, int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def decode_as(global_id: str, type_name: str) -> int | None:
    """The primary key if `global_id` is an ID of `type_name`, else None."""
    decoded = decode_id(global_id)
    return decoded[1] if decoded and decoded[0] == type_name else None
