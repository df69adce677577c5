"""The grade-sync worker (see :mod:`sync.worker.runner` for the shape of one drain).

* :mod:`sync.worker.runner` — ``Worker`` (claim, dispatch, deliver, settle) and
  ``install_stop_signals``;
* :mod:`sync.worker.settlement` — ``WorkerConfig``, ``Settlement``, ``RunStats``, ``utc_now`` and
  the mapping of delivery outcomes to settle requests.

The public names stay importable from ``sync.worker``.
"""

from __future__ import annotations

from sync.worker.runner import Worker, install_stop_signals
from sync.worker.settlement import RunStats, Settlement, WorkerConfig, utc_now

__all__ = ["RunStats", "Settlement", "Worker", "WorkerConfig", "install_stop_signals", "utc_now"]
