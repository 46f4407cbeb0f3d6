# Telegram-controlled Bybit trading bot. Secrets come only from the environment (docker run --env-file .env).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite:////data/tradebot.db

WORKDIR /app

# TA-Lib's PyPI wheel bundles the C library: no system package is needed. The runtime only: the test and lint
# tools (requirements-dev.txt) stay out of the image.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY bot.py config.example.toml ./
COPY tradebot ./tradebot
COPY handlers ./handlers
COPY wiring ./wiring
COPY proving ./proving
COPY storage ./storage
COPY data/sample ./data/sample

RUN useradd --create-home --uid 10001 bot \
    && mkdir -p /data \
    && chown bot:bot /data

USER bot
# Webhook mode (TELEGRAM_WEBHOOK_URL) listens here (TELEGRAM_WEBHOOK_PORT); polling needs no port.
EXPOSE 8443
# The journal (SQLite) lives on this volume; set DATABASE_URL to use PostgreSQL instead.
VOLUME ["/data"]

# Healthy while the trading loop ticks and Telegram answers (the journal's heartbeats, `bot.py health`).
HEALTHCHECK --interval=60s --timeout=20s --start-period=120s --retries=3 CMD ["python", "bot.py", "health"]

CMD ["python", "bot.py"]
