"""Lumina: a streaming memory engine that turns Kafka text events into memory units."""

__version__ = "0.1.0"
