"""compose.yaml stays in step with README.md and the Dockerfile: services, env vars, volume, health checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tradebot.settings.config import EnvSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")
HEALTH = ["python", "bot.py", "health"]


def section(title: str) -> str:
    m = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ )", README, re.S | re.M)
    assert m, f"README has no section {title!r}"
    return m.group(1)


def env_table() -> set[str]:
    """Variables documented in README's environment table."""
    table = section("Environment (`.env`)")
    return {v for row in table.splitlines() if row.startswith("| `") for v in re.findall(r"`([A-Z][A-Z0-9_]+)`",
                                                                                            row.split("|")[1])}


def test_services_and_their_documentation() -> None:
    text = section("Docker Compose with PostgreSQL")
    assert set(COMPOSE["services"]) == {"bot", "db"}
    for name in COMPOSE["services"]:
        assert f"`{name}`" in text
    assert "compose.yaml" in text


def test_postgres_journal_on_a_volume_with_a_health_check() -> None:
    db = COMPOSE["services"]["db"]
    assert str(db["image"]).startswith("postgres:")
    assert set(COMPOSE["volumes"]) == {"pgdata"}
    assert "pgdata:/var/lib/postgresql/data" in db["volumes"]
    assert "`pgdata`" in section("Docker Compose with PostgreSQL")
    test = db["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL" and "pg_isready" in test[1]
    assert db["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")


def test_bot_waits_for_a_healthy_db_and_has_the_readme_health_check() -> None:
    bot = COMPOSE["services"]["bot"]
    assert bot["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert bot["healthcheck"]["test"] == ["CMD", *HEALTH]
    readme_cmd = " ".join(HEALTH)
    assert f"`{readme_cmd}`" in section("Docker Compose with PostgreSQL")
    assert f"`{readme_cmd}`" in section("Health check")
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r'^HEALTHCHECK .*CMD \["python", "bot.py", "health"\]$', dockerfile, re.M)


def test_secrets_come_from_dotenv_and_every_variable_is_documented() -> None:
    bot = COMPOSE["services"]["bot"]
    assert bot["env_file"] in (".env", [".env"])
    raw = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", raw)) | set(bot.get("environment", {}))
    documented = env_table()
    assert used <= documented, f"compose uses {sorted(used - documented)} that README's env table lacks"
    for service in COMPOSE["services"].values():  # no secret is written in compose.yaml itself
        for key, value in (service.get("environment") or {}).items():
            assert not key.startswith(("TELEGRAM_", "BYBIT_")), f"{key} belongs in .env"
            if re.search(r"TOKEN|SECRET|PASSWORD|KEY", key):
                assert re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]*)?\}", str(value)), key
    url = bot["environment"]["DATABASE_URL"]
    assert re.search(r"://[^:]+:\$\{POSTGRES_PASSWORD[^}]*\}@", url)


def test_the_bot_database_url_is_valid_and_points_at_the_db_service() -> None:
    url = COMPOSE["services"]["bot"]["environment"]["DATABASE_URL"]
    url = re.sub(r"\$\{POSTGRES_PASSWORD[^}]*\}", "pw", url)
    env = EnvSettings.model_validate({"DATABASE_URL": url})
    assert env.DATABASE_URL.startswith("postgresql://") and "@db:5432/" in env.DATABASE_URL
    db_env = COMPOSE["services"]["db"]["environment"]
    assert env.DATABASE_URL.endswith(f"/{db_env['POSTGRES_DB']}")
    assert f"//{db_env['POSTGRES_USER']}:" in env.DATABASE_URL
