"""The stream's memory, as pure logic over key-value state: what decays, what merges, what
was true when. The Faust agents hand it RocksDB-backed tables; tests hand it dicts."""

from lumina.state.consolidation import Claim, ContentIndex
from lumina.state.memory import StateChanges, StreamMemory
from lumina.state.near import NearDuplicates, NearMatch
from lumina.state.reinforcement import DecayLedger

__all__ = [
    "Claim",
    "ContentIndex",
    "DecayLedger",
    "NearDuplicates",
    "NearMatch",
    "StateChanges",
    "StreamMemory",
]
