"""The domain model: one module per aggregate. Importing this package registers every table."""
from db import (
                access_log,
                api_key,
                application,
                audit,
                certificate,
                connection,
                corrective_action,
                document,
                environment,
                event,
                factory,
                organization,
                outbox,
                portal_session,
                webhooks,
)
from db.access_log import AccessLogEntry
from db.api_key import ApiKey
from db.application import Application, Fee, WorkflowTransition
from db.audit import Audit, Auditor, Finding
from db.base import Base
from db.certificate import Certificate
from db.connection import CustomerConnection
from db.corrective_action import CorrectiveAction, CorrectiveActionPlan, corrective_action_evidence
from db.document import Document, DocumentChunk, DocumentContent
from db.environment import EnvironmentalAssessment
from db.event import EventRecord
from db.factory import Factory
from db.organization import LoginAttempt, Organization, User
from db.outbox import Notification
from db.portal_session import PortalSession, SocketTicketUse
from db.webhooks import WebhookDelivery, WebhookEndpoint

__all__ = [
    "AccessLogEntry", "ApiKey", "Application", "Audit", "Auditor", "Base", "Certificate",
    "CorrectiveAction",
    "CorrectiveActionPlan", "CustomerConnection", "Document", "DocumentChunk",
    "DocumentContent", "EnvironmentalAssessment", "EventRecord", "Factory", "Fee", "Finding",
    "LoginAttempt", "Notification", "Organization", "PortalSession", "SocketTicketUse", "User",
    "WebhookDelivery", "WebhookEndpoint",
    "WorkflowTransition", "access_log", "api_key", "application", "audit", "certificate",
    "connection", "corrective_action", "corrective_action_evidence", "document", "environment",
    "event", "factory", "organization", "outbox", "portal_session", "webhooks",
]
