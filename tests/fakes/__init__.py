"""In-memory stand-ins for the CRM's ports, held to the same contract suite as the real backends
(tests/integration/test_crm_contract.py)."""

from tests.fakes.codes import RecordingCodeSender
from tests.fakes.crm import MemoryArrange, MemoryCrmService, MemoryCrmStore

__all__ = ["MemoryArrange", "MemoryCrmService", "MemoryCrmStore", "RecordingCodeSender"]
