"""Loopback ports for servers a test starts itself (shared with the benchmarks)."""

from __future__ import annotations

from bench.support import free_port

__all__ = ["free_port"]
