"""Terminal chat for --demo: prints what the real handlers sent to one chat and feeds typed lines back."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import itertools
import os
import re
import sys
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

from proving.telegram.hub import OfflineTelegram
from proving.telegram.types import CallbackAnswer, SentMessage

_MDV2_LINK = re.compile(r"(?<!\\)\[((?:\\.|[^\]\\])*)\]\(((?:\\.|[^)\\])*)\)")


def _default_write(text: str) -> None:
    print(text, flush=True)


def render_markdown(text: str, v2: bool) -> str:
    """Best-effort Markdown/MarkdownV2 to plain text (the hub does not parse Markdown)."""
    text = _MDV2_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    if not v2:
        return re.sub(r"[*_`]", "", text)
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if text[i] not in "*_~`|":
            out.append(text[i])
        i += 1
    return "".join(out)


def visible_text(message: SentMessage) -> str:
    """What a Telegram user would read: parsed HTML text, link targets shown in parentheses."""
    if message.parse_mode in ("Markdown", "MarkdownV2"):
        return render_markdown(message.plain, message.parse_mode == "MarkdownV2")
    units = message.plain.encode("utf-16-le")
    links = [e for e in message.entities if e["type"] == "text_link"]
    for ent in sorted(links, key=lambda e: e["offset"] + e["length"], reverse=True):
        end = 2 * (ent["offset"] + ent["length"])
        label = units[2 * ent["offset"]:end].decode("utf-16-le")
        if ent.get("url") and ent["url"] != label:
            units = units[:end] + f" ({ent['url']})".encode("utf-16-le") + units[end:]
    return units.decode("utf-16-le")


class TerminalChat:
    """One chat in the terminal: renders bot output for chat_id and turns input lines into updates."""

    def __init__(self, hub: OfflineTelegram, chat_id: int, user_id: int | None = None, *,
                 out_dir: str | Path | None = None, write: Callable[[str], None] | None = None,
                 echo: bool = False, settle: float = 0.0, settle_timeout: float = 5.0, echo_taps: bool = False) -> None:
        """settle > 0: after each input wait until the bot has been quiet that long (for piped scripts).
        echo: write every input line back ("you ▸ ..."); echo_taps: only the buttons a line resolved to."""
        self.hub, self.chat_id, self.user_id = hub, chat_id, user_id
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.write = write or _default_write
        self.echo, self.settle, self.settle_timeout, self.echo_taps = echo, settle, settle_timeout, echo_taps
        self.eof = asyncio.Event()
        self.blanks = 0  # empty lines typed (the demo's "let the market run")
        self._seq: dict[int, int] = {}  # message_id -> order in which it was last shown
        self._counter = itertools.count(1)
        # button numbers are unique across the whole session: (message_id, index) <-> number
        self._numbers: dict[tuple[int, int], int] = {}
        self._by_number: dict[int, tuple[int, int, str]] = {}  # number -> (message_id, index, label)
        self._unsubscribe = hub.on_send(self._on_event)

    def close(self) -> None:
        """Stop rendering (detach from the hub)."""
        self._unsubscribe()

    # ---- output ------------------------------------------------------------------------------------
    def _on_event(self, kind: str, obj: SentMessage | CallbackAnswer) -> None:
        if obj.chat_id != self.chat_id:
            return
        if isinstance(obj, CallbackAnswer):
            if obj.text:
                self.write(f"{'⚠' if obj.show_alert else '💬'} {obj.text}")
            return
        if kind == "delete":
            self.write(f"✗ (message {obj.message_id} deleted)")
            return
        self._seq[obj.message_id] = next(self._counter)
        self.write(self.render(obj, edited=kind == "edit"))

    def render(self, message: SentMessage, edited: bool = False) -> str:
        """Plain-text rendering of one message: body, attachment note, numbered callback buttons."""
        lines: list[str] = []
        if message.photo is not None:
            lines.append(f"[photo: {self._saved(message, message.photo)}]")
        if message.document is not None:
            name = Path(message.document.filename or "file").name
            lines.append(f"[document {name}: {self._saved(message, message.document.data, name)}]")
        body = visible_text(message)
        if body:
            lines.extend(body.split("\n"))
        lines.extend(self._button_lines(message))
        head = "✎ (edited) " if edited else "🤖 "
        return "\n".join([head + (lines[0] if lines else "")] + ["   " + line for line in lines[1:]])

    def _number(self, message_id: int, index: int, label: str) -> int:
        key = (message_id, index)
        if key not in self._numbers:
            self._numbers[key] = len(self._numbers) + 1
        number = self._numbers[key]
        self._by_number[number] = (message_id, index, label)
        return number

    def _button_lines(self, message: SentMessage) -> list[str]:
        rows: list[str] = []
        index = 0
        inline = (message.reply_markup or {}).get("inline_keyboard") or []
        for row in inline:
            cells = []
            for button in row:
                if button.get("callback_data") is not None:
                    number = self._number(message.message_id, index, button.get("text", ""))
                    index += 1
                    cells.append(f"[{number}] {button.get('text', '')}")
                elif button.get("url"):
                    cells.append(f"[↗ {button.get('text', '')}: {button['url']}]")
                else:
                    cells.append(f"[{button.get('text', '')}]")
            rows.append("  ".join(cells))
        keyboard = (message.reply_markup or {}).get("keyboard") or []
        for row in keyboard:
            rows.append("⌨ " + " | ".join(b if isinstance(b, str) else b.get("text", "") for b in row))
        return rows

    def _saved(self, message: SentMessage, data: bytes, name: str | None = None) -> str:
        size = f"{len(data)} bytes"
        if self.out_dir is None:
            return size
        ext = ".png" if data.startswith(b"\x89PNG") else ".jpg" if data.startswith(b"\xff\xd8") else ".bin"
        filename = f"chat{self.chat_id}_msg{message.message_id}" + (f"_{Path(name).name}" if name else ext)
        path = self.out_dir / filename
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError as exc:
            return f"{size}, not saved: {exc}"
        return f"{size} saved to {path}"

    # ---- input -------------------------------------------------------------------------------------
    def open_cards(self) -> list[SentMessage]:
        """Messages in this chat that still have callback buttons (oldest first)."""
        return [m for m in self.hub.sent(self.chat_id)
                if not m.deleted and any(data is not None for row in m.buttons for _, data in row)]

    def _message(self, message_id: int) -> SentMessage | None:
        return next((m for m in self.hub.sent(self.chat_id) if m.message_id == message_id), None)

    def _stale(self, number: int | None, label: str, message: SentMessage | None) -> tuple[str, str]:
        """The note for a button whose card is no longer open (nothing is sent to the bot)."""
        name = f"[{number}] {label}" if number is not None else f"[{label}]"
        outcome = ""
        if message is not None and not message.deleted:
            last = [line.strip() for line in visible_text(message).split("\n") if line.strip()]
            outcome = f" ({last[-1]})" if last else ""
        return "stale", (f"⚠ {name} belongs to a card that is no longer open{outcome}: that button is stale, "
                         "nothing was sent.")

    def resolve(self, line: str) -> tuple[str, Any]:
        """Map an input line to ("ignore", None) | ("command"/"text", text) | ("callback", (message, label, data))
        | ("stale", note) for a button whose card was answered, expired or replaced.

        Button numbers are unique across the session, so "1" always means the button shown as [1]; a label
        means the card printed last that has (or had) it."""
        text = line.strip()
        if not text:
            return "ignore", None
        if text.startswith("\\"):  # "\2" sends the literal text "2"
            return "text", text[1:]
        if text.startswith("/"):
            return "command", text
        if text.isdigit() and int(text) in self._by_number:
            message_id, index, label = self._by_number[int(text)]
            message = self._message(message_id)
            buttons = [] if message is None or message.deleted else \
                [(lbl, data) for row in message.buttons for lbl, data in row if data is not None]
            if index < len(buttons):
                label, data = buttons[index]
                return "callback", (message, label, data)
            return self._stale(int(text), label, message)
        # a label means the card printed last (nearest above the prompt) that has or had it: if that card is
        # closed the label is stale there, and never answers another card
        ever: dict[int, list[tuple[int, str]]] = {}
        for number, (message_id, _, label) in self._by_number.items():
            ever.setdefault(message_id, []).append((number, label))
        for m in self.open_cards():
            ever.setdefault(m.message_id, [])
        for message_id in sorted(ever, key=lambda mid: (self._seq.get(mid, 0), mid), reverse=True):
            message = self._message(message_id)
            if message is not None and not message.deleted:
                with contextlib.suppress(KeyError):
                    data = self.hub.button(message, text)
                    label = next(lbl for row in message.buttons for lbl, d in row if d == data)
                    return "callback", (message, label, data)
            for number, label in ever[message_id]:
                with contextlib.suppress(KeyError):
                    self.hub.button(SentMessage(0, self.chat_id, buttons=[[(label, "x")]]), text)
                    return self._stale(number, label, message)
        return "text", text

    async def handle_line(self, line: str) -> None:
        """Turn one input line into an update for the bot."""
        kind, value = self.resolve(line)
        if kind == "ignore":
            self.blanks += 1
            return
        if kind == "stale":
            if self.echo:
                self.write(f"you ▸ {line.strip()}")
            self.write(value)
            return
        if kind == "callback":
            message, label, data = value
            if self.echo or self.echo_taps:
                self.write(f"you ▸ [{label}]")
            self.hub.push_callback(self.chat_id, data, message.message_id, user_id=self.user_id)
        else:
            if self.echo:
                self.write(f"you ▸ {value}")
            self.hub.push_message(self.chat_id, value, user_id=self.user_id)
        if self.settle > 0:
            await self.hub.wait_idle(quiet=self.settle, timeout=self.settle_timeout)
        else:
            await asyncio.sleep(0)

    async def feed(self, lines: AsyncIterable[str] | Iterable[str]) -> None:
        """Handle every line until the source ends, then set self.eof."""
        if isinstance(lines, AsyncIterable):
            async for line in lines:
                await self.handle_line(line)
        else:
            for line in lines:
                await self.handle_line(line)
        self.eof.set()


async def stdin_lines(fd: int | None = None) -> AsyncIterator[str]:
    """Lines from stdin (or fd) read on a daemon thread, so the event loop never blocks; ends on EOF."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    source = sys.stdin.fileno() if fd is None else fd

    def put(item: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # loop already closed at interpreter exit
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def reader() -> None:  # os.read, not sys.stdin: no buffered-reader lock held at shutdown
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        buffer = ""
        try:
            while chunk := os.read(source, 4096):
                buffer += decoder.decode(chunk)
                *complete, buffer = buffer.split("\n")
                for line in complete:
                    put(line.rstrip("\r"))
        except OSError:
            pass
        buffer += decoder.decode(b"", final=True)
        if buffer:
            put(buffer.rstrip("\r"))
        put(None)

    threading.Thread(target=reader, name="stdin-lines", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line
