"""What a tick decides: the engine and its parts (read the market, gate, confirm or enter, saved settings, streams)."""
