"""Papote: a self-hosted, fast-asynchronous live chat for websites.

The public surface is re-exported here and guarded by ``tests/unit/test_public_api.py``.
"""

from papote.app import create_app
from papote.config import Config
from papote.errors import CloseCode, ErrorCode, PapoteError

__version__ = "0.1.0"

__all__ = ["CloseCode", "Config", "ErrorCode", "PapoteError", "__version__", "create_app"]
