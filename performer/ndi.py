"""The NDI runtime, loaded once per process: what the NDI output and the NDI video source share.

:func:`ndi_library` imports and initialises ndi-python's ``NDIlib`` the first time an NDI sender or receiver
opens, never at import, so users without it are not affected.
"""

from __future__ import annotations

import threading
from typing import Any

from performer.errors import OutputError

_ndi_lock = threading.Lock()
_ndi_lib: Any = None


def ndi_library() -> Any:
    """The NDIlib module (ndi-python), initialised once per process."""
    global _ndi_lib
    with _ndi_lock:
        if _ndi_lib is None:
            try:
                import NDIlib
            except ImportError as e:
                raise OutputError(f"NDI needs the ndi-python package (pip install 'performer[ndi]'): {e}") from None
            if not NDIlib.initialize():
                raise OutputError("the NDI runtime did not start (NDIlib.initialize() failed; is the CPU supported?)")
            _ndi_lib = NDIlib
        return _ndi_lib
