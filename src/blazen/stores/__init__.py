"""Checkpoint stores: the ``CheckpointStore`` Protocol, its records and ``open_store``.

Backends (``blazen.stores.memory``, ``.sqlite``, ``.postgres``, ``.redis``) are imported only
by ``open_store`` or by name, never here, so ``import blazen`` stays free of drivers.
"""

from blazen.stores.base import (
    DEFAULT_STORE_ENV,
    DEFAULT_STORE_FILE,
    CheckpointInfo,
    CheckpointStore,
    Commit,
    LoadedRun,
    PendingEvent,
    RunRecord,
    RunStatus,
    open_store,
)

__all__ = [
    "DEFAULT_STORE_ENV",
    "DEFAULT_STORE_FILE",
    "CheckpointInfo",
    "CheckpointStore",
    "Commit",
    "LoadedRun",
    "PendingEvent",
    "RunRecord",
    "RunStatus",
    "open_store",
]
