"""Typed declarative models, one module per area on one :class:`Base`. Only ``storage`` code
uses them; they never leave the package.

The schema itself is created and changed by the Alembic migrations in
``storage/migrations/versions``; these models must describe the same schema (a test runs
Alembic's autogenerate comparison against the migrated database on SQLite and PostgreSQL).
Importing this package registers every model on ``Base.metadata``.
"""

from storage.models.accounts import ConnectCode, ConnectFailure
from storage.models.alerts import WaitingUrgentAlert
from storage.models.audit import AuditEntry
from storage.models.base import NAMING_CONVENTION, Base, UTCDateTime
from storage.models.bridge import BridgedMessage
from storage.models.cases import CaseAttachment, CaseContent, CaseEvent, CaseReport, CaseRight
from storage.models.consultations import (
    Consultation,
    ConsultationContribution,
    ConsultationSubscription,
)
from storage.models.conversations import Conversation
from storage.models.feeds import Feed, FeedItemSeen
from storage.models.groups import Membership, Room, WorkingGroup
from storage.models.inbox import InboundEvent
from storage.models.joining import JoinRequest
from storage.models.members import Identity, Member
from storage.models.organizations import Organization, OrganizationImport, OrganizationMember
from storage.models.outbox import OutboxCaseContent, OutboxMessage
from storage.models.polls import (
    Poll,
    PollBallot,
    PollBlock,
    PollNotice,
    PollParticipation,
    PollVote,
)
from storage.models.posts import BotPost
from storage.models.scheduled import ScheduledWork
from storage.models.statements import (
    Statement,
    StatementNotice,
    StatementQuestion,
    StatementSignature,
    StatementSignatureEvent,
    StatementTextVersion,
    StatementTranslation,
)
from storage.models.transports import (
    CallbackPayload,
    SealCheck,
    TransportState,
    UnreachableChat,
)

__all__ = [
    "NAMING_CONVENTION",
    "AuditEntry",
    "Base",
    "BotPost",
    "BridgedMessage",
    "CallbackPayload",
    "CaseAttachment",
    "CaseContent",
    "CaseEvent",
    "CaseReport",
    "CaseRight",
    "ConnectCode",
    "ConnectFailure",
    "Consultation",
    "ConsultationContribution",
    "ConsultationSubscription",
    "Conversation",
    "Feed",
    "FeedItemSeen",
    "Identity",
    "InboundEvent",
    "JoinRequest",
    "Member",
    "Membership",
    "Organization",
    "OrganizationImport",
    "OrganizationMember",
    "OutboxCaseContent",
    "OutboxMessage",
    "Poll",
    "PollBallot",
    "PollBlock",
    "PollNotice",
    "PollParticipation",
    "PollVote",
    "Room",
    "ScheduledWork",
    "SealCheck",
    "Statement",
    "StatementNotice",
    "StatementQuestion",
    "StatementSignature",
    "StatementSignatureEvent",
    "StatementTextVersion",
    "StatementTranslation",
    "TransportState",
    "UTCDateTime",
    "UnreachableChat",
    "WaitingUrgentAlert",
    "WorkingGroup",
]
