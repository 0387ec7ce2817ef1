from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crm_adapter.accounts import AccountMail
from handoff.desk import HandoffDesk
from handoff.service import OpeningHours
from hearth.container import Container, set_container
from hearth.settings import Settings
from tests.factories import Clock
from tests.fakes import (
    Inbox,
    MemoryArrange,
    MemoryCrmService,
    MemoryCrmStore,
    MemoryEmailChangeStore,
    RecordingCodeSender,
    RecordingNotices,
)
from tests.fakes.handoff import MemoryAgentRoster, MemoryHandoffQueue, MemoryHandoffStore
from tests.fakes.relationship import MemoryRelationship, MemoryRelationshipArrange, MemoryRelationshipStore
from tests.fakes.reviews import MemoryReviewStore
from tests.fakes.website import MemoryWebsiteAccounts, MemoryWebsiteSignIns
from tests.help_centre import memory_knowledge


@dataclass
class MemoryCrm:
    """The actions' CRM for one test, in memory: the CRM, relationship and handoff stand-ins (tests/fakes/, each
    held to its contract suite) on one store, with handles to arrange data and to read what was written."""

    clock: Clock = field(default_factory=Clock)
    sender: RecordingCodeSender = field(default_factory=RecordingCodeSender)
    store: MemoryCrmStore = field(default_factory=MemoryCrmStore)
    handoff_store: MemoryHandoffStore = field(default_factory=MemoryHandoffStore)
    notices: RecordingNotices = field(default_factory=RecordingNotices)

    def __post_init__(self) -> None:
        self.service = MemoryCrmService(self.store, self.sender, clock=self.clock)
        self.codes = Inbox(self.sender, self.service.deliver_codes)  # read after the worker's code delivery
        self.email_changes = MemoryEmailChangeStore(self.store, clock=self.clock)
        self.arrange = MemoryArrange(self.store)
        self.relationship_store = MemoryRelationshipStore(self.store)
        self.history = MemoryRelationshipArrange(self.relationship_store)
        self.relationship = MemoryRelationship(self.relationship_store, clock=self.clock)
        self.handoffs = MemoryHandoffQueue(self.handoff_store, clock=self.clock)
        self.agents = MemoryAgentRoster(self.handoff_store, clock=self.clock)
        self.sign_ins = MemoryWebsiteSignIns(self.store, clock=self.clock)
        self.website_accounts = MemoryWebsiteAccounts(
            self.store, AccountMail(self.notices, "http://shop.test"), clock=self.clock
        )
        self.reviews = MemoryReviewStore(self.store, clock=self.clock)

    def container(self, data_dir: Path) -> Container:
        """The actions' container: these services, with erasure removing exports from the development outbox
        in `data_dir`."""
        box = Container(Settings.from_env({"HEARTH_DATA_DIR": str(data_dir)}))
        relationship = MemoryRelationship(
            self.relationship_store, clock=self.clock, remove_outbox=box.export_mail.remove
        )
        box.replace("crm", self.service)
        box.replace("website_sign_ins", self.sign_ins)
        box.replace("website_accounts", self.website_accounts)
        box.replace("code_sender", self.sender)
        box.replace("notices", self.notices)
        box.replace("email_change_store", self.email_changes)
        box.replace("relationship", relationship)
        box.replace("product_reviews", self.reviews)
        # the real help centre on an in-memory database, empty (tests/help_centre.py): it knows nothing unless a
        # test gives it articles (tests/unit/test_knowledge_actions.py)
        box.replace("knowledge", memory_knowledge(clock=self.clock, with_articles=False))
        box.replace(
            "desk",
            HandoffDesk(
                self.handoffs, self.agents, OpeningHours.parse("always"), self.service, relationship, clock=self.clock
            ),
        )
        return box


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[MemoryCrm]:
    """The actions' CRM for one test, in memory; no database is opened (the test fails if one is made)."""
    memory = MemoryCrm()
    set_container(memory.container(tmp_path))
    yield memory
    set_container(None)
    assert not list(tmp_path.glob("*.db")), "an action test opened a database"


@pytest.fixture
def crm_down(tmp_path: Path) -> Iterator[MemoryCrmService]:
    """A CRM whose database cannot be reached: every CRM and relationship call raises CrmUnavailable."""
    memory = MemoryCrm(store=MemoryCrmStore(down=True))
    set_container(memory.container(tmp_path))
    yield memory.service
    set_container(None)


@pytest.fixture
def anna(crm: MemoryCrm) -> str:
    """Anna, with the email and order number the identity tests prove her with (a module may define its own)."""
    customer = crm.arrange.add_customer(first_name="Anna", email="anna@example.com")
    crm.arrange.add_order(customer, "JH300001")
    return customer
