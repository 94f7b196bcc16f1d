"""SQLAlchemy 2.x typed models: the one schema, built by the Alembic migrations."""

from models.api_access import ApiKey as ApiKey
from models.api_access import IdempotentRequest as IdempotentRequest
from models.base import Base as Base
from models.catalog import Notice as Notice
from models.catalog import Processor as Processor
from models.catalog import Purpose as Purpose
from models.catalog import Retention as Retention
from models.consent import ConsentEvent as ConsentEvent
from models.consent import ConsentStatus as ConsentStatus
from models.consent import Suppression as Suppression
from models.consent import SuppressionLift as SuppressionLift
from models.consent import SuppressionLogEntry as SuppressionLogEntry
from models.consent import suppression_in_force as suppression_in_force
from models.contact import Contact as Contact
from models.crm_webhooks import CrmWebhookDelivery as CrmWebhookDelivery
from models.crm_webhooks import CrmWebhookEndpoint as CrmWebhookEndpoint
from models.evidence_keys import EvidenceKey as EvidenceKey
from models.fingerprints import KeyFingerprint as KeyFingerprint
from models.identity_codes import OneTimeCode as OneTimeCode
from models.pacing_buckets import PacingBucket as PacingBucket
from models.rights import RightsNotice as RightsNotice
from models.rights import RightsRequest as RightsRequest
from models.rights import RightsRequestEvent as RightsRequestEvent
from models.rpo import RpoConsultation as RpoConsultation
from models.rpo import RpoRegistration as RpoRegistration
from models.wave import SendAttempt as SendAttempt
from models.wave import Wave as Wave
from models.wave import WaveEvent as WaveEvent
from models.wave import WaveRequest as WaveRequest
from models.webhook import WebhookEvent as WebhookEvent

metadata = Base.metadata

__all__ = [
    "ApiKey",
    "Base",
    "ConsentEvent",
    "ConsentStatus",
    "Contact",
    "CrmWebhookDelivery",
    "CrmWebhookEndpoint",
    "EvidenceKey",
    "IdempotentRequest",
    "KeyFingerprint",
    "Notice",
    "OneTimeCode",
    "PacingBucket",
    "Processor",
    "Purpose",
    "Retention",
    "RightsNotice",
    "RightsRequest",
    "RightsRequestEvent",
    "RpoConsultation",
    "RpoRegistration",
    "SendAttempt",
    "Suppression",
    "SuppressionLift",
    "SuppressionLogEntry",
    "Wave",
    "WaveEvent",
    "WaveRequest",
    "WebhookEvent",
    "metadata",
    "suppression_in_force",
]
