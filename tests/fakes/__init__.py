"""In-memory stand-ins for the ports, each held to a contract suite with the real backends:
the CRM (crm.py, tests/integration/test_crm_contract.py), pending email changes (email_changes.py,
test_email_change_contract.py), the relationship (relationship.py,
test_relationship_contract.py) and the handoff desk's queue and agent roster (handoff.py,
test_handoff_contract.py)."""

from tests.fakes.codes import Inbox, RecordingCodeSender
from tests.fakes.crm import MemoryArrange, MemoryCrmService, MemoryCrmStore
from tests.fakes.email_changes import MemoryEmailChangeStore
from tests.fakes.notices import RecordingNotices

__all__ = [
    "Inbox",
    "MemoryArrange",
    "MemoryCrmService",
    "MemoryCrmStore",
    "MemoryEmailChangeStore",
    "RecordingCodeSender",
    "RecordingNotices",
]
