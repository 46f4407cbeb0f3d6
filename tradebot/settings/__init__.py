"""Settings: the configuration (environment and TOML), the database URL, changes by dotted path."""
