"""Opaque global IDs (resolvers.ids): re-exported for the schema modules."""
from resolvers.ids import decode_as, decode_id, encode_id  # noqa: F401 - re-exported
