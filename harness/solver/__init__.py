"""Conversations: the dialogue solver, the attacker persona, backtracking checks, replayed turns."""

from harness.solver._dialogue import dialogue
from harness.solver._drivers import needs_attacker
from harness.solver._replay import ReplayConversation, ReplayLog, read_replay_log

__all__ = [
    "ReplayConversation",
    "ReplayLog",
    "dialogue",
    "needs_attacker",
    "read_replay_log",
]
