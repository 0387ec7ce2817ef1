"""One BLAS thread in the serving processes.

NumPy's OpenBLAS starts a worker thread per core and, after each matrix product big enough to split, keeps it
spinning (`sched_yield` in a loop) waiting for the next one. A server multiplies small matrices every few
milliseconds, so its workers never sleep: under 20 concurrent conversations the Rasa server's OpenBLAS thread
burnt about half a core doing nothing, on a machine of two (docs/measurements.md, "Where a reply's time goes").
A server handles one message at a time per process and gains nothing from a second BLAS thread.

OpenBLAS reads the variable once, when it is loaded: call this before anything imports NumPy. A value the
operator set is kept.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

VARIABLE = "OPENBLAS_NUM_THREADS"


def one_thread(environ: MutableMapping[str, str] = os.environ) -> None:
    environ.setdefault(VARIABLE, "1")
