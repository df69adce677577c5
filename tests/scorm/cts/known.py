"""ADL CTS cases that do not pass yet, each with the reason (applied as strict xfail).

``python -m tests.scorm.cts.report -v`` prints every mismatch of a case. A case that starts
passing fails the run (strict xfail) until it is removed from here.
"""

from __future__ import annotations

KNOWN_FAILING: dict[str, str] = {
}
