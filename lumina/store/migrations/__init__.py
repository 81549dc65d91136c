"""Versioned ClickHouse migrations, applied in file-name order at start."""
