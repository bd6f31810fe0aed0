"""Loads the peer (core.llama_flows) when it is installed and this process needs it."""

import sys
from types import ModuleType


def _load_peer() -> ModuleType | None:
    """The llama_flows module, or None: no peer wanted, or llama-index-workflows missing."""
    # The blob child processes only import the peer when they measure it.
    if "--no-peer" in sys.argv or ("--blob-child" in sys.argv and "llama" not in sys.argv):
        return None
    try:
        from . import llama_flows
    except ImportError:
        return None
    return llama_flows


PEER = _load_peer()
HAVE_PEER = PEER is not None
