"""Every alert type has its [bot.alerts] switch and every switch an alert type: ``AlertSettings.on`` reads them
by the typed kind each event declares (mypy rejects an event whose kind is not one of them)."""

from __future__ import annotations

import typing

from tradebot.events import Event
from tradebot.settings.config import AlertSettings
from tradebot.states import AlertKind


def _events(cls: type[Event]) -> list[type[Event]]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_events(sub))]


def test_switches_and_kinds_are_the_same_set() -> None:
    assert set(AlertSettings.model_fields) == set(typing.get_args(AlertKind))


def test_each_switch_turns_its_own_kind_off() -> None:
    for kind in typing.get_args(AlertKind):
        off = AlertSettings.model_validate({kind: False})
        assert [k for k in typing.get_args(AlertKind) if not off.on(k)] == [kind]


def test_every_event_names_a_switch() -> None:
    assert {e.kind for e in _events(Event)} <= set(typing.get_args(AlertKind))
