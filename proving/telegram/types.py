"""Pure Telegram-shape helpers for the offline Bot API: Telegram-HTML parsing, recorded-object dataclasses."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

Buttons = list[list[tuple[str, str | None]]]
CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are "
                 "exactly the same as a current content and reply markup of the message")
_TAGS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
         "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
         "span": "spoiler", "code": "code", "pre": "pre", "a": "text_link", "blockquote": "blockquote",
         "tg-emoji": "custom_emoji"}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|lt|gt|amp|quot);")
_ATTR_RE = re.compile(r"""([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


class HTMLParseError(ValueError):
    """Telegram would reject the text with "Bad Request: can't parse entities: ..."."""


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-HTML like the Bot API: returns (plain text, entities with UTF-16 offsets)."""
    out: list[str] = []
    pos = 0  # UTF-16 position in the output
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            off = len(text[:i].encode())  # tdlib: read the name first, then look for ">"
            m = re.compile(r"(/?)([^\s>]*)").match(text, i + 1)
            assert m is not None
            closing, name = bool(m.group(1)), m.group(2).lower()
            if not closing and name not in _TAGS:
                raise HTMLParseError(f'Unsupported start tag "{name}" at byte offset {off}')
            end = text.find(">", m.end())
            if end < 0:
                raise HTMLParseError(f"Unclosed {'end' if closing else 'start'} tag at byte offset {off}")
            rest = text[m.end():end]
            if closing:
                if not stack:
                    raise HTMLParseError(f"Unexpected end tag at byte offset {off}")
                top, start, attrs = stack.pop()
                if top != name:
                    raise HTMLParseError(
                        f'Unmatched end tag at byte offset {off}, expected "</{top}>", found "</{name}>"')
                if name == "code" and stack and stack[-1][0] == "pre" and attrs.get("class", "").startswith(
                        "language-"):
                    stack[-1][2]["language"] = attrs["class"][9:]
                elif pos > start:
                    entities.append(_entity(name, start, pos - start, attrs))
            else:
                attrs = {k.lower(): html.unescape(a or b or c) for k, a, b, c in _ATTR_RE.findall(rest)}
                if name not in _TAGS or (name == "span" and attrs.get("class") != "tg-spoiler"):
                    raise HTMLParseError(f'Unsupported start tag "{name}" at byte offset {off}')
                stack.append((name, pos, attrs))
            i = end + 1
            continue
        m = _ENTITY_RE.match(text, i) if ch == "&" else None
        if m:
            ref = m.group(1)
            ch = _NAMED.get(ref) or chr(int(ref[2:], 16) if ref[1:2] in "xX" else int(ref[1:]))
            i = m.end()
        else:
            i += 1
        out.append(ch)
        pos += 2 if ord(ch) > 0xFFFF else 1
    if stack:
        raise HTMLParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _entity(tag: str, offset: int, length: int, attrs: dict[str, str]) -> dict[str, Any]:
    ent: dict[str, Any] = {"type": _TAGS[tag], "offset": offset, "length": length}
    if tag == "a":
        ent["url"] = attrs.get("href", "")
    elif tag == "pre" and "language" in attrs:
        ent["language"] = attrs["language"]
    elif tag == "tg-emoji":
        ent["custom_emoji_id"] = attrs.get("emoji-id", "")
    elif tag == "blockquote" and "expandable" in attrs:
        ent["type"] = "expandable_blockquote"
    return ent


class ApiCall(NamedTuple):
    """One Bot API request as the fake server saw it; params are JSON-decoded."""

    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class UploadedFile:
    """A multipart upload (InputFile) received by the fake server."""

    filename: str | None
    mimetype: str | None
    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"UploadedFile({self.filename!r}, {self.mimetype!r}, {len(self.data)} bytes)"


@dataclass
class Edit:
    """A previous state of a SentMessage, kept when the bot edits it."""

    method: str
    text: str | None
    caption: str | None
    buttons: Buttons


@dataclass
class SentMessage:
    """A message the bot sent; text/caption are the source the bot sent, plain/entities what users see."""

    message_id: int
    chat_id: int
    text: str | None = None
    parse_mode: str | None = None
    buttons: Buttons = field(default_factory=list)
    photo: bytes | None = None
    caption: str | None = None
    document: UploadedFile | None = None
    plain: str = ""
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    edits: list[Edit] = field(default_factory=list)
    deleted: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def media(self) -> bytes | None:
        """The photo's or else the document's bytes; None for a text message."""
        if self.photo is not None:
            return self.photo
        return self.document.data if self.document is not None else None


@dataclass
class CallbackAnswer:
    """An answerCallbackQuery for a query pushed by the hub."""

    query_id: str
    chat_id: int
    message_id: int | None
    text: str | None
    show_alert: bool


Listener = Callable[[str, "SentMessage | CallbackAnswer"], None]
ApiMethod = Callable[[dict[str, Any], dict[str, "UploadedFile"]], Any]


class ApiError(Exception):
    def __init__(self, code: int, description: str, **parameters: Any) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def buttons_of(markup: dict[str, Any] | None) -> Buttons:
    rows = (markup or {}).get("inline_keyboard") or []
    return [[(b.get("text", ""), b.get("callback_data")) for b in row] for row in rows]


def normalize_label(label: str) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in label.casefold()).split())



def command_entities(text: str) -> list[dict[str, Any]]:
    m = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
    return [{"type": "bot_command", "offset": 0, "length": len(m.group(0))}] if m else []
