"""Button taps: the data is decoded by handlers/buttons.py into a typed intent, then handled through the service."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from handlers import phone
from handlers.alerts import queue_card_edits, queue_token_card_edits
from handlers.buttons import decode, needs
from handlers.chat import origin, who
from handlers.deps import Deps, get_deps
from handlers.optimize import ask_again, optimize_button
from handlers.render.formatting import card_result, esc, resting_note
from handlers.roles import REFUSED_BUTTON
from tradebot.chat.tokens import CardData, ClaimStatus
from tradebot.errors import UserError
from tradebot.intents import DECISION_WORDS, UNKNOWN_DECISIONS, WORD_OF_DECISION, Button, ButtonAction
from tradebot.outcome import Outcome
from tradebot.states import DECIDED, OutcomeStatus

log = logging.getLogger("handlers.callbacks")
EXPIRED_BUTTON = "This button has expired or was already used."
NOT_THIS_CARD = "This button does not belong to this card."
NOT_THIS_CHAT = "This button was not sent to this chat."


async def _answer(query: CallbackQuery, text: str, alert: bool = False) -> None:
    try:
        await query.answer(text[:200], show_alert=alert)
    except BadRequest as exc:  # too old to answer (e.g. taps queued while the bot was down)
        log.info("could not answer callback: %s", exc)


async def _edit(query: CallbackQuery, html: str) -> None:
    try:
        await query.edit_message_text(html, parse_mode=ParseMode.HTML)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


def _card_html(query: CallbackQuery) -> str:
    message = query.message
    return message.text_html if isinstance(message, Message) and message.text else ""


def _shows(query: CallbackQuery) -> bool:
    """True when the tapped message shows this very button now. Telegram's clients only tap what a message shows,
    but callback data can be forged: a card is decided only from the card itself."""
    markup = getattr(query.message, "reply_markup", None)
    rows = markup.inline_keyboard if markup is not None else ()
    return any(b.callback_data == query.data for row in rows for b in row)


async def _decide(query: CallbackQuery, deps: Deps, conf_id: str, user_id: int, by: str, approve: bool) -> str:
    on_card = _shows(query)
    if not on_card and await deps.service.card_open(conf_id):  # forged onto another message: refused
        await _answer(query, NOT_THIS_CARD, alert=True)
        return "refused: not on the card"
    answered = False

    async def resting(seconds: float) -> None:  # a maker-first entry may rest that long: answer the tap now
        nonlocal answered
        answered = True
        text = resting_note(seconds)
        await _answer(query, text)
        await _edit(query, card_result(_card_html(query), OutcomeStatus.EXECUTING, text, by))

    out: Outcome = await (deps.service.desk.approve(conf_id, user_id, resting) if approve
                              else deps.service.desk.reject(conf_id, user_id))
    chat_id = query.message.chat.id if query.message else None
    if out.status in DECIDED:
        if not answered:
            await _answer(query, out.text)
        await _edit(query, card_result(_card_html(query), out.status, out.text, by))
        await queue_card_edits(deps, conf_id, out.status, out.text, by, skip_chat=chat_id)
    else:  # already / unknown: someone (or an earlier tap) decided; just say so and drop stale buttons
        await _answer(query, out.text, alert=True)
        if on_card:  # a copy whose edit had not arrived yet (forged data on another card leaves it alone)
            await _edit(query, card_result(_card_html(query), OutcomeStatus.ALREADY, out.text))
    return f"{out.status}: {out.text}"


async def _card_action(update: Update, query: CallbackQuery, deps: Deps, button: Button, by: str) -> str:
    """A tap on a card with a single-use token (close and stop-all asks, unknown positions, /optimize Apply, their
    Cancel): it
    decides the card once (tradebot/chat/tokens.py), then acts; the card, and its copies in other chats, say who
    decided what. A tap that is not on the card itself (forged data) only reads the card's state."""
    chat_id = query.message.chat.id if query.message else None
    on_card = _shows(query)
    claim = await (deps.service.tokens.claim(button.ref, button.action, chat_id=chat_id, by=by) if on_card
                   else deps.service.tokens.look(button.ref, chat_id))
    if claim.status in (ClaimStatus.LIVE, ClaimStatus.WRONG_ACTION, ClaimStatus.WRONG_CHAT):  # nothing spent
        await _answer(query, NOT_THIS_CHAT if claim.status is ClaimStatus.WRONG_CHAT else NOT_THIS_CARD, alert=True)
        return f"refused: {claim.status}"
    if claim.status is ClaimStatus.GONE:
        await _answer(query, EXPIRED_BUTTON, alert=True)
        if on_card:
            await _edit(query, f"{_card_html(query)}\n\n<i>{esc(EXPIRED_BUTTON)}</i>")
        return "stale token"
    if claim.status is ClaimStatus.DECIDED:
        word = WORD_OF_DECISION.get(claim.decision, claim.decision)
        text = f"Already decided: {word}{f' by {claim.by}' if claim.by else ''}.{f' {claim.note}' if claim.note else ''}"
        await _answer(query, text, alert=True)
        if on_card:  # a copy whose edit had not arrived yet
            await _edit(query, f"{_card_html(query)}\n\nℹ️ {esc(text)}")
        return f"already: {claim.decision}"
    try:
        out = await _act(update, deps, button, claim.data, by)
    except Exception as exc:  # the error handler logs and reports it; the user learns the card is spent
        await _answer(query, f"Failed ({type(exc).__name__}); this card is used up, ask again.", alert=True)
        await _edit(query, f"{_card_html(query)}\n\n❌ <b>Failed</b> ({esc(by)}): {esc(str(exc)[:300])}")
        raise
    await _answer(query, out.text, alert=out.status not in (OutcomeStatus.OK, OutcomeStatus.NOOP))
    if button.action is ButtonAction.CANCEL:
        await _edit(query, f"{_card_html(query)}\n\n<i>{esc(out.text)}</i>")
    elif button.action in UNKNOWN_DECISIONS:
        status = DECISION_WORDS[button.action] if out.status is OutcomeStatus.OK else out.status
        await _edit(query, card_result(_card_html(query), status, out.text, by))
        await queue_token_card_edits(deps, button.ref, status, out.text, by, skip_chat=chat_id)
    elif button.action is ButtonAction.OPTIMIZE_APPLY and out.status is OutcomeStatus.OK:
        await _edit(query, f"{_card_html(query)}\n\n<b>Applied</b> ({esc(by)}): {esc(out.text)}")
    else:
        await _edit(query, f"{_card_html(query)}\n\n<b>Done</b> ({esc(by)}):\n{esc(out.text)}")
    return f"{out.status}: {out.text}"


async def _act(update: Update, deps: Deps, button: Button, card: CardData, by: str) -> Outcome:
    """What the winning tap does."""
    if (out := await phone.act(update, deps, button, card, by)) is not None:
        return out
    if button.action is ButtonAction.CANCEL:
        return Outcome(OutcomeStatus.OK, f"Cancelled by {by}. Nothing was done.")
    if button.action is ButtonAction.STOP_ALL:
        return await deps.service.stop_all(by, origin(update))
    if button.action is ButtonAction.CLOSE:
        return await deps.service.engine.close(card.symbol)
    if button.action is ButtonAction.OPTIMIZE_APPLY:
        try:
            pid = card.proposal or card.symbol  # ("symbol": older cards)
            proposal = await deps.service.proposal(pid)
            if proposal.warning and card.step == 1:  # a result that lost money: asked a second time first
                return await ask_again(update, deps, update.effective_chat.id if update.effective_chat else None,
                                       pid, proposal.warning)
            return await deps.service.apply_settings(proposal.changes, by)
        except UserError as exc:  # the proposal expired, or the settings no longer validate: nothing applied
            return Outcome(OutcomeStatus.FAILED, str(exc))
    return await deps.service.decide_unknown(card.symbol, UNKNOWN_DECISIONS[button.action], card.size)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    deps = get_deps(context)
    data = query.data or ""
    button = decode(data)
    by = who(update)
    result = "unknown button"
    role = deps.access.role(update)
    allowed = role is not None and (button is None or role >= needs(button.action))
    try:
        if button is None:
            await _answer(query, "Unknown button.")
        elif not allowed:  # the card stays as it is: its owner may still decide it
            await _answer(query, REFUSED_BUTTON, alert=True)
            result = f"refused: needs {needs(button.action).name.lower()}, is {role.name.lower() if role else None}"
        elif button.action in (ButtonAction.APPROVE, ButtonAction.REJECT):
            result = await _decide(query, deps, button.ref, query.from_user.id, by,
                                   approve=button.action is ButtonAction.APPROVE)
        elif button.action is ButtonAction.OPTIMIZE_SHOW:
            result = await optimize_button(query, deps, button, by)
        else:  # a single-use card: close / stop-all asks, unknown positions, /optimize Apply, Cancel
            result = await _card_action(update, query, deps, button, by)
    finally:
        await deps.service.audit(kind="callback", action=data.partition(":")[0] or "?", allowed=allowed,
                           user_id=query.from_user.id, chat_id=query.message.chat.id if query.message else None,
                           args=data, result=result)
