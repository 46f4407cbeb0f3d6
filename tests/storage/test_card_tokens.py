"""Card tokens (tradebot/chat/tokens.py) over a real journal, as a state machine: whatever order taps come in (any
button, any chat, replays, bursts at once, time passing), a card is decided at most once, only by one of its own
actions from one of its chats, refused taps change nothing, and every later tap reads the decision taken."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from storage.journal import Journal
from tests.journals import journal
from tradebot.chat.tokens import DECIDED_KEEP, CardData, CardTokens, ClaimStatus

ACTIONS = ["close", "cancel", "stop_all", "adopt", "close_unknown", "ignore_unknown", "optimize_apply"]
CHATS = [1, 2, 3, -100]
TTL = timedelta(minutes=10)


@dataclass
class Card:
    actions: list[str]
    chats: list[int] | None
    issued: datetime
    decided: tuple[str, str] | None = None  # (action, by)
    decided_at: datetime | None = None


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[tuple[Journal, asyncio.AbstractEventLoop]]:
    """One journal for every example (migrating one per example would be slow): each example's tokens are new."""
    loop = asyncio.new_event_loop()
    with journal("sqlite-memory", tmp_path) as eng:
        j = Journal(eng)
        try:
            yield j, loop
        finally:
            j.close()
            loop.close()


def test_a_card_is_decided_once_by_its_own_buttons(shared: tuple[Journal, asyncio.AbstractEventLoop]) -> None:
    store, loop = shared

    class Cards(RuleBasedStateMachine):
        tokens = Bundle("tokens")

        @initialize()
        def start(self) -> None:
            self.now = datetime(2030, 1, 1, tzinfo=UTC)
            self.cards: dict[str, Card] = {}
            self.won: dict[str, int] = {}
            self.sut = CardTokens(store, lambda: self.now)

        @rule(target=tokens, actions=st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=3, unique=True),
              chats=st.none() | st.lists(st.sampled_from(CHATS), min_size=1, max_size=3, unique=True))
        def issue(self, actions: list[str], chats: list[int] | None) -> str:
            token = loop.run_until_complete(self.sut.issue(actions, TTL, chats, CardData(symbol="BTCUSDT")))
            self.cards[token] = Card(actions, chats, self.now)
            return token

        def expected(self, token: str, action: str, chat: int) -> ClaimStatus:
            card = self.cards[token]
            if card.decided is not None:
                assert card.decided_at is not None
                return ClaimStatus.DECIDED if self.now <= card.decided_at + DECIDED_KEEP else ClaimStatus.GONE
            if self.now > card.issued + TTL:
                return ClaimStatus.GONE
            if action not in card.actions:
                return ClaimStatus.WRONG_ACTION
            if card.chats is not None and chat not in card.chats:
                return ClaimStatus.WRONG_CHAT
            return ClaimStatus.WON

        def check(self, token: str, action: str, chat: int, by: str, status: ClaimStatus) -> None:
            card = self.cards[token]
            claim_ok = self.expected(token, action, chat)
            assert status is claim_ok, (status, claim_ok, card, action, chat)
            if status is ClaimStatus.WON:
                card.decided, card.decided_at = (action, by), self.now
                self.won[token] = self.won.get(token, 0) + 1

        @rule(token=tokens, action=st.sampled_from(ACTIONS), chat=st.sampled_from(CHATS),
              by=st.sampled_from(["@a", "@b"]))
        def tap(self, token: str, action: str, chat: int, by: str) -> None:
            before = self.cards[token].decided
            claim = loop.run_until_complete(self.sut.claim(token, action, chat_id=chat, by=by))
            self.check(token, action, chat, by, claim.status)
            if claim.status is ClaimStatus.DECIDED:
                assert before is not None and (claim.decision, claim.by) == before  # who decided what

        @rule(token=tokens, n=st.integers(2, 5), chat=st.sampled_from(CHATS))
        def burst(self, token: str, n: int, chat: int) -> None:
            """A double tap, or copies tapped in several chats at once: at most one wins."""
            card = self.cards[token]
            action = card.actions[0]

            async def all_at_once() -> list[ClaimStatus]:
                claims = await asyncio.gather(*(self.sut.claim(token, action, chat_id=chat, by=f"@{i}")
                                                for i in range(n)))
                return [c.status for c in claims]

            expected = self.expected(token, action, chat)
            statuses = loop.run_until_complete(all_at_once())
            if expected is ClaimStatus.WON:
                assert statuses.count(ClaimStatus.WON) == 1 and set(statuses) <= {ClaimStatus.WON, ClaimStatus.DECIDED}
                card.decided, card.decided_at = (action, f"@{statuses.index(ClaimStatus.WON)}"), self.now
                self.won[token] = self.won.get(token, 0) + 1
            else:
                assert set(statuses) == {expected}

        @rule(seconds=st.sampled_from([30, 9 * 60, 11 * 60, 23 * 3600, 2 * 86400]))
        def wait(self, seconds: int) -> None:
            self.now += timedelta(seconds=seconds)

        @rule(token=st.text("abcXYZ019_-", min_size=1, max_size=12), action=st.sampled_from(ACTIONS))
        def forged(self, token: str, action: str) -> None:
            claim = loop.run_until_complete(self.sut.claim(token, action, chat_id=1, by="@x"))
            assert token in self.cards or claim.status is ClaimStatus.GONE

        @invariant()
        def decided_at_most_once(self) -> None:
            assert all(n == 1 for n in getattr(self, "won", {}).values())

    run_state_machine_as_test(Cards, settings=settings(max_examples=40, stateful_step_count=20, deadline=None))
