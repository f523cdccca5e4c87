"""Subscriptions (graphql-transport-ws): certification status changes and connection changes.

Who hears an event is decided per event with fresh data (resolvers.subscriptions); each event is
then answered in a context of its own, so its nested fields obey the same rules as a query.
"""
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from auth.permissions import SignedIn
from overrides import fanout
from overrides.guards import guarded
from overrides.schema import resolve_info
from resolvers import subscriptions
from resolvers.connection import EVENT_TOPIC as CONNECTION_TOPIC
from resolvers.errors import InvalidArgument
from resolvers.loaders import CertificateById, VisibleConnectionById, VisibleFactoryById
from resolvers.settled import settled
from resolvers.workflow import CERTIFICATION_TOPIC
from schema import grouping
from schema.certificate import Certificate
from schema.connection import CustomerConnection
from schema.enums import CertificationStatus
from schema.factory import Factory
from schema.ids import decode_as

MAX_FACTORY_IDS = 500


@strawberry.type(description="A change of a factory's certification status (or its current "
                             "certificate), as seen by a viewer holding CERTIFICATION.")
class CertificationStatusEvent:
    delivery: strawberry.Private[Any]
    previous_status: CertificationStatus = strawberry.field(description="The status before.")
    status: CertificationStatus = strawberry.field(description="The status now.")
    occurred_at: datetime = strawberry.field(description="When the change was committed.")

    # Plain `def`s answering through `settled`: the feed primed these loaders, so the values
    # are there at once and no task is made per subscriber.

    @strawberry.field(description="The factory whose status changed, as the viewer sees it now.")
    def factory(self, info: Info) -> Factory:
        return settled(info.context.loader(VisibleFactoryById).load(  # type: ignore[return-value]
            self.delivery.event["factory_id"]), Factory.from_row)

    @strawberry.field(description="The current certificate after the change, if any.")
    def certificate(self, info: Info) -> Certificate | None:
        certificate_id = self.delivery.event.get("certificate_id")
        if certificate_id is None:
            return None
        return settled(info.context.loader(CertificateById).load(  # type: ignore[return-value]
            certificate_id), lambda row: Certificate.from_row(row) if row is not None else None)

    @classmethod
    def of(cls, delivery: subscriptions.Delivery) -> "CertificationStatusEvent":
        event = delivery.event
        return cls(delivery=delivery, previous_status=CertificationStatus(event["previous"]),
                   status=CertificationStatus(event["status"]),
                   occurred_at=delivery.occurred_at)


def _factory_ids(ids: list[strawberry.ID] | None) -> list[int] | None:
    if ids is None:
        return None
    if len(ids) > MAX_FACTORY_IDS:
        raise InvalidArgument(f"`factoryIds` may name at most {MAX_FACTORY_IDS} factories.")
    decoded = [decode_as(i, "Factory") for i in ids]
    if None in decoded:
        raise InvalidArgument("`factoryIds` holds an id that is not a Factory's.")
    return decoded  # type: ignore[return-value]


@strawberry.type
class Subscription:
    @guarded(SignedIn(), subscription=True,
             description="Certification status changes of factories the viewer may see with "
                         "CERTIFICATION; all of them when factoryIds is omitted. Checked again "
                         "for every event.")
    async def certification_status_changed(
        self, info: Info, factory_ids: Annotated[list[strawberry.ID] | None, strawberry.argument(
            description=f"Only these factories (at most {MAX_FACTORY_IDS}); omitted: every "
                        "factory the viewer may see.")] = None,
    ) -> AsyncGenerator[CertificationStatusEvent, None]:
        wanted = _factory_ids(factory_ids)
        raw = resolve_info(info)
        direct = fanout.direct_of(info, CertificationStatusEvent.of, grouping.profile_for(
            raw.schema, raw.operation, raw.fragments))
        if direct is not None:  # on a socket: answered by group, written as frames
            await subscriptions.write_directly(info.context, CERTIFICATION_TOPIC, wanted, direct)
            return
        async for delivery in subscriptions.deliveries(info.context, CERTIFICATION_TOPIC,
                                                       wanted):
            yield CertificationStatusEvent.of(delivery)

    @guarded(SignedIn(), subscription=True,
             description="Connection requests, responses, scope changes and endings that "
                         "concern the viewer's organization.")
    async def connection_changed(self, info: Info) -> AsyncGenerator[CustomerConnection, None]:
        async for delivery in subscriptions.deliveries(info.context, CONNECTION_TOPIC):
            row = await info.context.loader(VisibleConnectionById).load(
                delivery.event["connection_id"])
            yield CustomerConnection.from_row(row)
