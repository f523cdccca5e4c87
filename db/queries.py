"""Shared SQL: the derived certification status, one definition for reads and filters.

A factory's status is derived, never stored, so expiry by date needs no job:
  current certificate REVOKED / SUSPENDED        -> REVOKED / SUSPENDED
  current certificate ACTIVE, valid today        -> CERTIFIED
  otherwise an open application                  -> IN_PROGRESS
  current certificate ACTIVE but past valid_until -> EXPIRED
  otherwise                                      -> NOT_CERTIFIED
The "current" certificate is the one not superseded (at most one per factory, by index).
resolvers.certification_rules.factory_certification_status states the same rule in Python; a
test holds the two together.
"""
from typing import Any

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    and_,
    case,
    exists,
    func,
    literal,
    select,
    true,
)

from db.application import Application
from db.certificate import Certificate
from db.enums import CLOSED_APPLICATION_STATUSES, CertificateStatus, CertificationStatus
from db.factory import Factory


def _current_certificate(factory_id: SQLColumnExpression[int]) -> Any:
    return (select(Certificate.id, Certificate.status, Certificate.valid_until)
            .where(Certificate.factory_id == factory_id,
                   Certificate.status != CertificateStatus.SUPERSEDED.value)
            .limit(1).lateral("current_certificate"))


def _open_application(factory_id: SQLColumnExpression[int]) -> ColumnElement[bool]:
    return exists().where(Application.factory_id == factory_id,
                          Application.status.not_in([s.value for s in
                                                     CLOSED_APPLICATION_STATUSES]))


def _status_case(status: Any, valid_until: Any,
                 open_application: ColumnElement[bool]) -> ColumnElement[str]:
    today = func.current_date()
    return case(
        (status == CertificateStatus.REVOKED.value, CertificationStatus.REVOKED.value),
        (status == CertificateStatus.SUSPENDED.value, CertificationStatus.SUSPENDED.value),
        (and_(status == CertificateStatus.ACTIVE.value, valid_until >= today),
         CertificationStatus.CERTIFIED.value),
        (open_application, CertificationStatus.IN_PROGRESS.value),
        (status == CertificateStatus.ACTIVE.value, CertificationStatus.EXPIRED.value),
        else_=literal(CertificationStatus.NOT_CERTIFIED.value),
    )


def certification_of_factories(ids_condition: Any) -> Any:
    """factory_id, status, certified_until, certificate_id for the factories whose id matches."""
    cert = _current_certificate(Factory.id)
    status = _status_case(cert.c.status, cert.c.valid_until, _open_application(Factory.id))
    certified_until = case((cert.c.status == CertificateStatus.REVOKED.value, None),
                           else_=cert.c.valid_until)
    return (select(Factory.id.label("factory_id"), status.label("status"),
                   certified_until.label("certified_until"),
                   cert.c.id.label("certificate_id"))
            .select_from(Factory).outerjoin(cert, true())
            .where(Factory.id == ids_condition))


def certification_status_of(factory_id: SQLColumnExpression[int]) -> ColumnElement[str]:
    """The derived status as a scalar expression, for WHERE clauses on factories."""
    current = (Certificate.factory_id == factory_id,
               Certificate.status != CertificateStatus.SUPERSEDED.value)
    status = select(Certificate.status).where(*current).scalar_subquery()
    valid_until = select(Certificate.valid_until).where(*current).scalar_subquery()
    return _status_case(status, valid_until, _open_application(factory_id))


def certification_columns(factory_id: SQLColumnExpression[int]) -> tuple[Any, list[Any]]:
    """The current certificate as a lateral to outer-join, and certification_status,
    certified_until and certificate_id over it: for selects of many factories (the compiled
    read path), where each factory's certificate is then read once."""
    cert = _current_certificate(factory_id)
    status = _status_case(cert.c.status, cert.c.valid_until, _open_application(factory_id))
    certified_until = case((cert.c.status == CertificateStatus.REVOKED.value, None),
                           else_=cert.c.valid_until)
    return cert, [status.label("certification_status"), certified_until.label("certified_until"),
                  cert.c.id.label("certificate_id")]
