"""Bybit v5 REST: signing, error codes, typed models and the one async client."""
