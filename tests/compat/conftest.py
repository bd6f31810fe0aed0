"""The compat suite runs on blazen and, unchanged, on the Rust-core package.

``../shared/tools/rust-peer python -m pytest tests/compat`` runs it on the Rust-core
package (the root conftest keeps an installed blazen first on the path);
``PYTHONPATH=src`` in front runs it on this checkout. Tests only use the public API.
"""

from __future__ import annotations

import blazen


def pytest_report_header() -> str:
    """Say which package the suite is testing."""
    return f"compat suite on blazen from {blazen.__file__}"
