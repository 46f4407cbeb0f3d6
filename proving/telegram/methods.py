"""Per-method Bot API emulation (send/edit/delete/answer/commands), composed into OfflineTelegram."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any, Protocol

from proving.telegram.types import (
    NOT_MODIFIED,
    ApiMethod,
    CallbackAnswer,
    Edit,
    HTMLParseError,
    SentMessage,
    UploadedFile,
    bad_request,
    buttons_of,
    parse_html,
)


class Hub(Protocol):
    """The hub's state as the methods read and write it (``hub.OfflineTelegram`` satisfies it; a protocol, so this
    module does not import the hub that composes it)."""

    bot_id: int
    username: str
    first_name: str
    answers: list[CallbackAnswer]
    commands: list[dict[str, Any]]
    menus: dict[str, list[dict[str, Any]]]
    webhook: dict[str, Any]
    by_id: dict[tuple[int, int], SentMessage]
    incoming: dict[tuple[int, int], dict[str, Any]]
    queries: dict[str, tuple[int, int | None]]
    updates: list[dict[str, Any]]
    lock: threading.RLock

    def chat(self, chat_id: int, chat_type: str | None = None) -> dict[str, Any]: ...

    def new_message_id(self, chat_id: int) -> int: ...

    def notify(self, kind: str, obj: SentMessage | CallbackAnswer) -> None: ...


DEFAULT_SCOPE = '{"type": "default"}'


def scope_key(scope: Any) -> str:
    """A BotCommandScope as the key its menu is kept under (absent: the default scope)."""
    return json.dumps(scope or {"type": "default"}, sort_keys=True)


def menu_for(menus: dict[str, list[dict[str, Any]]], chat_id: int, user_id: int | None = None) -> list[str]:
    """The command names a user sees in a chat, resolved as the Bot API documents it ("Determining list of
    commands", language codes and administrator scopes left out): in a private chat (a positive id) the chat's
    scope, then all private chats, then the default; in a group the member's scope, the chat's, all group chats,
    then the default."""
    private = chat_id > 0
    order = ([{"type": "chat", "chat_id": chat_id}, {"type": "all_private_chats"}] if private else
             [{"type": "chat_member", "chat_id": chat_id, "user_id": user_id}, {"type": "chat", "chat_id": chat_id},
              {"type": "all_group_chats"}])
    for scope in [*order, None]:
        if (found := menus.get(scope_key(scope))) is not None:
            return [c["command"] for c in found]
    return []


class BotApiMethods:
    """The handlers behind ``OfflineTelegram.api``: composed into the hub (``BotApiMethods(hub).table()``); they
    read and write the hub's public state (``by_id``, ``incoming``, ``queries``, ``updates``, ``lock``, ...)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def _message_json(self, sent: SentMessage) -> dict[str, Any]:
        msg: dict[str, Any] = {"message_id": sent.message_id, "date": int(time.time()),
                               "chat": self.hub.chat(sent.chat_id),
                               "from": {"id": self.hub.bot_id, "is_bot": True, "first_name": self.hub.first_name,
                                        "username": self.hub.username}}
        if (media := sent.media) is not None:
            fid = {"file_id": f"f{sent.chat_id}_{sent.message_id}", "file_unique_id": f"u{sent.message_id}",
                   "file_size": len(media)}
            if sent.photo is not None:
                msg["photo"] = [{**fid, "width": 800, "height": 600}]
            elif (doc := sent.document) is not None:
                msg["document"] = {**fid, "file_name": doc.filename or "file",
                                   "mime_type": doc.mimetype or "application/octet-stream"}
            if sent.caption is not None:
                msg["caption"] = sent.plain
                if sent.entities:
                    msg["caption_entities"] = sent.entities
        else:
            msg["text"] = sent.plain
            if sent.entities:
                msg["entities"] = sent.entities
        if sent.buttons and sent.reply_markup is not None:  # buttons come from reply_markup
            msg["reply_markup"] = {"inline_keyboard": sent.reply_markup["inline_keyboard"]}
        if sent.edits:
            msg["edit_date"] = int(time.time())
        return msg

    @staticmethod
    def _render(params: dict[str, Any], key: str, limit: int) -> tuple[str, list[dict[str, Any]]]:
        text = str(params.get(key) or "")
        if len(text) > limit:
            raise bad_request("message is too long" if key == "text" else "message caption is too long")
        if params.get("parse_mode") == "HTML":
            try:
                text, entities = parse_html(text)
            except HTMLParseError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
        else:  # Markdown is passed through unparsed
            entities = list(params.get("entities" if key == "text" else "caption_entities") or [])
        if key == "text" and not text.strip():
            raise bad_request("message text is empty")
        return text, entities

    @staticmethod
    def _check_markup(markup: dict[str, Any] | None) -> None:
        for row in (markup or {}).get("inline_keyboard") or []:
            for button in row:
                if len(str(button.get("callback_data", "")).encode()) > 64:
                    raise bad_request("BUTTON_DATA_INVALID")

    def _send(self, params: dict[str, Any], kind: str, key: str, **fields: Any) -> dict[str, Any]:
        plain, entities = self._render(params, key, 4096 if key == "text" else 1024)
        chat_id = int(params["chat_id"])
        markup = params.get("reply_markup")
        self._check_markup(markup)
        sent = SentMessage(self.hub.new_message_id(chat_id), chat_id, parse_mode=params.get("parse_mode"), plain=plain,
                           entities=entities, buttons=buttons_of(markup), reply_markup=markup, **fields)
        sent.raw = self._message_json(sent)
        self.hub.by_id[(chat_id, sent.message_id)] = sent
        self.hub.notify(kind, sent)
        return sent.raw

    def _media(self, params: dict[str, Any], files: dict[str, UploadedFile], key: str) -> UploadedFile:
        if key in files:
            return files[key]
        ref = str(params.get(key, ""))
        known = next((m for m in self.hub.by_id.values() if ref == f"f{m.chat_id}_{m.message_id}"), None)
        if known is None or known.media is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return UploadedFile(None, None, known.media)

    def _edit(self, params: dict[str, Any], method: str, key: str | None) -> dict[str, Any]:
        if "inline_message_id" in params:
            raise bad_request("inline messages are not emulated")
        ref = (int(params.get("chat_id", 0)), int(params.get("message_id", 0)))
        sent = self.hub.by_id.get(ref)
        if sent is None or sent.deleted:
            raise bad_request("message can't be edited" if ref in self.hub.incoming else "message to edit not found")
        markup = params.get("reply_markup")
        self._check_markup(markup)
        new: dict[str, Any] = {"buttons": buttons_of(markup), "reply_markup": markup}
        if key is not None:
            if (key == "text") != (sent.text is not None):
                raise bad_request(f"there is no {key} in the message to edit")
            plain, entities = self._render(params, key, 4096 if key == "text" else 1024)
            new.update({key: params.get(key), "plain": plain, "entities": entities,
                        "parse_mode": params.get("parse_mode")})
        keyboard = (markup or {}).get("inline_keyboard") or []
        if ((sent.reply_markup or {}).get("inline_keyboard") or []) == keyboard and all(
                getattr(sent, k) == new[k] for k in ("plain", "entities") if k in new):
            raise bad_request(NOT_MODIFIED[len("Bad Request: "):])
        sent.edits.append(Edit(method, sent.text, sent.caption, sent.buttons))
        for name, value in new.items():
            setattr(sent, name, value)
        sent.raw = self._message_json(sent)
        self.hub.notify("edit", sent)
        return sent.raw

    def _delete(self, params: dict[str, Any]) -> bool:
        ref = (int(params.get("chat_id", 0)), int(params.get("message_id", 0)))
        sent = self.hub.by_id.get(ref)
        if (sent is None or sent.deleted) and self.hub.incoming.pop(ref, None) is None:
            raise bad_request("message to delete not found")
        if sent is not None:
            sent.deleted = True
            self.hub.notify("delete", sent)
        return True

    def _answer(self, params: dict[str, Any]) -> bool:
        target = self.hub.queries.pop(str(params.get("callback_query_id")), None)
        if target is None:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        answer = CallbackAnswer(str(params["callback_query_id"]), target[0], target[1], params.get("text"),
                                bool(params.get("show_alert")))
        self.hub.answers.append(answer)
        self.hub.notify("answer", answer)
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            with self.hub.lock:
                self.hub.updates.clear()
        self.hub.webhook = {}
        return True

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        """Telegram's rules: an https URL (empty removes it), secret_token 1-256 of A-Z a-z 0-9 _ -."""
        url = str(params.get("url") or "")
        if not url:
            return self._delete_webhook(params)
        if not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad_request("bad webhook: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            with self.hub.lock:
                self.hub.updates.clear()
        self.hub.webhook = {k: params[k] for k in ("url", "secret_token", "allowed_updates", "max_connections",
                                                "ip_address") if params.get(k) is not None}
        return True

    def _webhook_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"url": self.hub.webhook.get("url", ""), "has_custom_certificate": False,
                                "pending_update_count": len(self.hub.updates)}
        for key in ("max_connections", "allowed_updates", "ip_address"):
            if key in self.hub.webhook:
                info[key] = self.hub.webhook[key]
        return info

    def _set_commands(self, params: dict[str, Any], commands: list[dict[str, Any]] | None) -> bool:
        """setMyCommands / deleteMyCommands (``commands`` None) for the params' ``scope`` (default: every chat)."""
        key = scope_key(params.get("scope"))
        if commands is None:
            self.hub.menus.pop(key, None)
        else:
            self.hub.menus[key] = list(commands)
        if key == DEFAULT_SCOPE:
            self.hub.commands = list(commands or [])
        return True

    def table(self) -> dict[str, ApiMethod]:
        return {
            "getMe": lambda p, f: {"id": self.hub.bot_id, "is_bot": True, "first_name": self.hub.first_name,
                                   "username": self.hub.username, "can_join_groups": True,
                                   "can_read_all_group_messages": False, "supports_inline_queries": False},
            "deleteWebhook": lambda p, f: self._delete_webhook(p),
            "setWebhook": lambda p, f: self._set_webhook(p),
            "getWebhookInfo": lambda p, f: self._webhook_info(),
            "sendMessage": lambda p, f: self._send(p, "message", "text", text=p.get("text")),
            "sendPhoto": lambda p, f: self._send(p, "photo", "caption", photo=self._media(p, f, "photo").data,
                                                 caption=p.get("caption")),
            "sendDocument": lambda p, f: self._send(p, "document", "caption", caption=p.get("caption"),
                                                    document=self._media(p, f, "document")),
            "editMessageText": lambda p, f: self._edit(p, "editMessageText", "text"),
            "editMessageCaption": lambda p, f: self._edit(p, "editMessageCaption", "caption"),
            "editMessageReplyMarkup": lambda p, f: self._edit(p, "editMessageReplyMarkup", None),
            "deleteMessage": lambda p, f: self._delete(p),
            "answerCallbackQuery": lambda p, f: self._answer(p),
            "sendChatAction": lambda p, f: True,
            "setMyCommands": lambda p, f: self._set_commands(p, p.get("commands") or []),
            "getMyCommands": lambda p, f: self.hub.menus.get(scope_key(p.get("scope")), []),
            "deleteMyCommands": lambda p, f: self._set_commands(p, None),
        }
