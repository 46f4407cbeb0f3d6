"""Single-use button tokens, one per card: which actions the card's buttons may take, in which chats, and once a tap
decided it, what was decided, by whom and where. No Telegram here: the chat layer passes plain ids and names.

A tap is checked in this order: the token must be known and fresh (else GONE), the action one of the card's own
(else WRONG_ACTION) and the chat one the card was sent to (else WRONG_CHAT); refused taps leave the card as it is,
so a forged or misrouted button burns nothing. (The chat layer also checks that the tap came from a message that
shows that very button; a tap that did not only ``look``s.) Then one atomic step turns the card into a decided one: of any
number of taps (double taps, copies in several chats, replays) exactly one WINs, the others read the decision.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from storage.journal import Journal

BUTTON, DECIDED = "button", "decided"  # the journal's kinds of pending action: a live card, a decided one
SUBJECT = "cardof"  # and the newest card's token for a subject (an unknown position: "uk:SYMBOL")
DECIDED_KEEP = timedelta(days=1)  # how long a decided card answers "already decided" (then: expired)


class ClaimStatus(StrEnum):
    WON = "won"  # this tap decides the card
    DECIDED = "decided"  # decided before: ``Claim.decided`` says who decided what
    WRONG_ACTION = "wrong_action"  # not one of this card's buttons (the card is untouched)
    WRONG_CHAT = "wrong_chat"  # the card was not sent to this chat (untouched)
    GONE = "gone"  # unknown, expired, or from before single-use cards
    LIVE = "live"  # (``look`` only) the card is open: this tap was not on it, so it may not decide it


@dataclass(frozen=True, slots=True)
class CardData:
    """What a card acts on, kept with its token (each kind of card sets its own fields; unset: the default).

    ``symbol``: a close, an unknown position, a picked position, a level move. ``size``: the unknown position's
    size its card showed. ``qty``: a partial /close. ``proposal``, ``step``: an /optimize Apply (the proposal's
    id; 1: the first of a losing result's two questions, 2: the second). ``which``, ``price``: a /sl or /tp
    move ("sl"/"tp", the new level). ``what``: a position picker's ("close"/"sl").
    """

    symbol: str = ""
    size: Decimal | None = None
    qty: Decimal | None = None
    proposal: str = ""
    step: int = 0
    which: str = ""
    price: Decimal | None = None
    what: str = ""

    def to_json(self) -> dict[str, object]:
        """The journal's form: the fields set, Decimals as their strings."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and value != f.default:
                out[f.name] = str(value) if isinstance(value, Decimal) else value
        return out

    @classmethod
    def from_json(cls, row: Mapping[str, object]) -> CardData:
        return cls(symbol=str(row.get("symbol") or ""), size=_dec(row.get("size")), qty=_dec(row.get("qty")),
                   proposal=str(row.get("proposal") or ""), step=int(str(row.get("step") or 0)),
                   which=str(row.get("which") or ""), price=_dec(row.get("price")), what=str(row.get("what") or ""))


@dataclass(frozen=True, slots=True)
class Card:
    """A card as its token keeps it: the actions its buttons may take, the chats it went to (None: any chat the
    bot answers) and what it acts on."""

    actions: tuple[str, ...]
    chats: tuple[int, ...] | None
    data: CardData

    def to_json(self) -> dict[str, object]:
        return {"actions": list(self.actions), "chats": None if self.chats is None else list(self.chats),
                **self.data.to_json()}

    @classmethod
    def from_json(cls, row: Mapping[str, object]) -> Card:
        actions = row.get("actions") or [row.get("action"), "cancel"]  # a token issued before cards had actions
        chats = row.get("chats")
        return cls(tuple(str(a) for a in _items(actions) if a is not None),
                   None if chats is None else tuple(int(str(c)) for c in _items(chats)), CardData.from_json(row))


@dataclass(frozen=True, slots=True)
class Decided:
    """Who decided a card, how, and what a later tap should also hear (``note``)."""

    action: str
    by: str
    note: str = ""


@dataclass(frozen=True)
class Claim:
    """What a tap came to: the card (WON, WRONG_*, LIVE; DECIDED: as it was) and, once decided, the decision."""

    status: ClaimStatus
    card: Card | None = None
    decided: Decided | None = None

    @property
    def data(self) -> CardData:
        """What the card acts on (empty for an unknown token)."""
        return self.card.data if self.card is not None else CardData()

    @property
    def decision(self) -> str:
        return self.decided.action if self.decided is not None else ""

    @property
    def by(self) -> str:
        return self.decided.by if self.decided is not None else ""

    @property
    def note(self) -> str:
        return self.decided.note if self.decided is not None else ""


def _dec(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _items(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


class CardTokens:
    """Issues and claims card tokens in the journal (kind "button" while live, "decided" after)."""

    def __init__(self, journal: Journal, clock: Callable[[], datetime]) -> None:
        self.journal, self.clock = journal, clock

    async def issue(self, actions: Sequence[str], ttl: timedelta, chats: Iterable[int] | None = None,
                    data: CardData | None = None, *, subject: str | None = None) -> str:
        """A new card's token: its buttons may take ``actions``, in ``chats`` (None: any chat the bot answers),
        for ``ttl``; ``data`` is what the card acts on (a symbol, a size...). With ``subject``, the card is the
        one :meth:`decide_subject` finds for it (replacing an earlier one)."""
        token = secrets.token_urlsafe(8)
        card = Card(tuple(str(a) for a in actions), None if chats is None else tuple(sorted(set(chats))),
                    data or CardData())
        await self.journal.state.put_action(BUTTON, token, card.to_json(), self.clock() + ttl)
        if subject is not None:
            await self.journal.state.put_action(SUBJECT, subject, {"token": token}, self.clock() + ttl)
        return token

    async def claim(self, token: str, action: str, *, chat_id: int | None, by: str) -> Claim:
        """Decide the card with ``action`` if this tap may (see the module's order of checks)."""
        now = self.clock()
        live = await self.journal.state.peek_action(BUTTON, token, now)
        if live is None:
            return await self._decided(token, now)
        card = Card.from_json(live)
        if action not in card.actions:
            return Claim(ClaimStatus.WRONG_ACTION, card)
        if card.chats is not None and chat_id not in card.chats:
            return Claim(ClaimStatus.WRONG_CHAT, card)
        record = {**live, "decided": str(action), "by": by, "chat": chat_id, "at": now.isoformat()}
        if await self.journal.state.decide_action(BUTTON, token, record, now, now + DECIDED_KEEP):
            return Claim(ClaimStatus.WON, card)
        return await self._decided(token, now)  # another tap won meanwhile

    async def decide_subject(self, subject: str, action: str, *, by: str, note: str = "") -> tuple[str, Claim] | None:
        """Decide the newest card issued for ``subject`` without a tap (the bot applied a default; ``note``: what a
        later tap should also hear): (its token, WON), or what was decided before / GONE; None when no card was
        issued for it."""
        now = self.clock()
        index = await self.journal.state.peek_action(SUBJECT, subject, now)
        if index is None:
            return None
        token = str(index["token"])
        live = await self.journal.state.peek_action(BUTTON, token, now)
        if live is None:
            return token, await self._decided(token, now)
        record = {**live, "decided": str(action), "by": by, "chat": None, "at": now.isoformat(), "note": note}
        if await self.journal.state.decide_action(BUTTON, token, record, now, now + DECIDED_KEEP):
            return token, Claim(ClaimStatus.WON, Card.from_json(live))
        return token, await self._decided(token, now)

    async def look(self, token: str, chat_id: int | None) -> Claim:
        """The card's state without deciding it (a tap that was not on the card itself): LIVE, WRONG_CHAT,
        DECIDED or GONE."""
        now = self.clock()
        live = await self.journal.state.peek_action(BUTTON, token, now)
        if live is None:
            return await self._decided(token, now)
        card = Card.from_json(live)
        wrong = card.chats is not None and chat_id not in card.chats
        return Claim(ClaimStatus.WRONG_CHAT if wrong else ClaimStatus.LIVE, card)

    async def _decided(self, token: str, now: datetime) -> Claim:
        record = await self.journal.state.peek_action(DECIDED, token, now)
        if record is None:
            return Claim(ClaimStatus.GONE)
        return Claim(ClaimStatus.DECIDED, Card.from_json(record),
                     Decided(str(record.get("decided") or ""), str(record.get("by") or ""),
                             str(record.get("note") or "")))
