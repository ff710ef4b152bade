"""Every mapped table, imported in one place so the metadata (and Alembic) sees them all."""

from samverkan.accounts.models import ApiToken, Invitation, Membership, User
from samverkan.audit.models import AuditEntry
from samverkan.cases.models import Attachment, Case, CaseEvent, Draft, ReferenceCounter
from samverkan.catalogue.models import Category, ServiceDefinition, TenantService
from samverkan.costs.models import AllocationRun, AllocationShare, CostPool, PoolParticipant
from samverkan.identity.models import CitizenSession
from samverkan.outbox.models import OutboxMessage
from samverkan.tenancy.models import Tenant

__all__ = [
    "AllocationRun",
    "AllocationShare",
    "CostPool",
    "PoolParticipant",
    "ApiToken",
    "Attachment",
    "AuditEntry",
    "Case",
    "CaseEvent",
    "Category",
    "CitizenSession",
    "Draft",
    "Invitation",
    "Membership",
    "OutboxMessage",
    "ReferenceCounter",
    "ServiceDefinition",
    "Tenant",
    "TenantService",
    "User",
]
