"""Checkpoint stores: the ``CheckpointStore`` Protocol, its records and ``open_store``.

Backends (``blazen.stores.memory``, ``.sqlite``, ``.postgres``, ``.redis``) are imported only
by ``open_store`` or by name, never here, so ``import blazen`` stays free of drivers. The
names exported here are exactly ``blazen.stores.base.__all__``.
"""

from blazen.stores.base import *  # noqa: F403
from blazen.stores.base import __all__ as __all__
