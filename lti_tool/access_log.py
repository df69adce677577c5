"""The access log of ``cbsi-connect serve``: gunicorn's line, without its per-request copying.

gunicorn's ``Logger.access`` builds every atom it knows for each request (the request's and the
response's headers and the whole WSGI environ, each copied and quote-escaped by ``SafeAtoms``)
to fill a format that reads eight of them. On a runtime commit that was about a tenth of the
web tier's CPU. :class:`AccessLogger` builds only the atoms :data:`ACCESS_LOG_FORMAT` and the JSON
rewrite (``lti_tool.logging_setup.GunicornAccessJson``) read, with the same values; any other
format falls back to gunicorn's full set.
"""

from __future__ import annotations

import datetime
from typing import Any

from gunicorn.glogging import Logger

#: The access line (path without the query string: registration tokens and the like never reach
#: the log). ``server.log_format = "json"``: ``GunicornAccessJson`` rewrites it as JSON.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms %({x-request-id}o)s'
_REQUEST_ID = "x-request-id"


class AccessLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, building only the atoms of :data:`ACCESS_LOG_FORMAT` for the access line."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: datetime.timedelta) -> dict[str, Any]:
        if self.cfg.access_log_format != ACCESS_LOG_FORMAT:
            return dict(super().atoms(resp, req, environ, request_time))
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        request_id = "-"
        for name, value in resp.headers:
            if name.lower() == _REQUEST_ID:
                request_id = value
                break
        # gunicorn wraps these in SafeAtoms (quotes escaped, "-" for what is missing) as before
        return {
            "h": environ.get("REMOTE_ADDR", "-"),
            "m": environ.get("REQUEST_METHOD"),
            "U": environ.get("PATH_INFO"),
            "H": environ.get("SERVER_PROTOCOL"),
            "s": status,
            "b": str(sent) if sent is not None else "-",
            "B": sent,
            "M": (request_time.seconds * 1000) + int(request_time.microseconds / 1000),
            "{x-request-id}o": request_id,
        }
