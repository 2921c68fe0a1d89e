"""Where HTTP is spoken: one requests session to the engine (and `fanout` for many GETs at
once), no redirects.

Every path segment is percent-encoded with nothing kept safe (the engine decodes `%2F`,
so a raw `/` or `..` in an id would reach another endpoint), and redirects are never
followed: the engine answers a path holding `..` with a 301 to the cleaned path, and
following it acts on a different container.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests
import requests_unixsocket
import urllib3
from requests_unixsocket.adapters import UnixHTTPConnectionPool

from . import fanout
from .address import base_url, display_name, socket_path
from .errors import EngineError, EngineTimeout, EngineUnavailable, error_from_response
from .response import Response
from .tls import TLSConfig, describe_tls_error

__all__ = ["Transport", "Response", "Stream", "DEFAULT_TIMEOUT", "Timeout", "encode_filters"]

Timeout = tuple[float, float]
#: (connect, read) seconds for ordinary calls; long calls pass their own.
DEFAULT_TIMEOUT: Timeout = (3.0, 60.0)
#: Bytes read per chunk of a streamed body, and at most this much of an error body is kept.
CHUNK = 1 << 20
_ERROR_BODY_MAX = 64 * 1024
Params = Mapping[str, Any] | Sequence[tuple[str, Any]] | None


def encode_filters(filters: Mapping[str, Sequence[str]]) -> str:
    """The `filters` query value the engine reads: a JSON object of lists."""
    return json.dumps({k: list(v) for k, v in filters.items()})


_NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, urllib3.exceptions.HTTPError, OSError)


def _read_timed_out(exc: BaseException) -> bool:
    """The engine took the request, then sent nothing within the read timeout."""
    return isinstance(exc, (requests.ReadTimeout, urllib3.exceptions.ReadTimeoutError)) or any(
        isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in getattr(exc, "args", ())
    )


class _SocketPool(UnixHTTPConnectionPool):
    """A unix-socket pool that keeps up to `maxsize` connections (the library's keeps one)."""

    def __init__(self, socket_url: str, timeout: float, maxsize: int) -> None:
        urllib3.connectionpool.HTTPConnectionPool.__init__(self, "localhost", timeout=timeout, maxsize=maxsize)
        self.socket_path = socket_url
        self.timeout = timeout


class _SocketAdapter(requests_unixsocket.UnixAdapter):
    """requests-unixsocket keys its pools by the whole URL, so no connection is ever reused
    across two paths; this keys them by socket instead."""

    def __init__(self, pool_maxsize: int = 16) -> None:
        super().__init__()
        self._maxsize = pool_maxsize
        self._lock = threading.Lock()
        self._by_socket: dict[str, _SocketPool] = {}

    def get_connection(self, url, proxies=None):  # noqa: ANN001 - requests' signature
        netloc = urlsplit(url).netloc
        with self._lock:
            pool = self._by_socket.get(netloc)
            if pool is None:
                pool = self._by_socket[netloc] = _SocketPool("http+unix://" + netloc, self.timeout, self._maxsize)
            return pool

    def close(self) -> None:
        with self._lock:
            for pool in self._by_socket.values():
                pool.close()
            self._by_socket.clear()


#: Told of every call: (method, path segments, seconds), e.g. to time calls by operation.
Observer = Callable[[str, Sequence[str], float], None]


class Stream:
    """An answer whose body is read chunk by chunk (never whole), with its status and headers."""

    def __init__(self, response: requests.Response, unavailable: Callable[[Exception], EngineUnavailable]) -> None:
        self.status = response.status_code
        self.headers = response.headers
        self._r = response
        self._unavailable = unavailable

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        """The body as it arrives, never decoded; a connection lost mid-way raises
        EngineUnavailable, a body that stops coming EngineTimeout."""
        try:
            yield from self._r.raw.stream(size, decode_content=False)
        except _NETWORK_ERRORS as exc:
            raise self._unavailable(exc) from exc


class Transport:
    """HTTP to one engine, pinned to one API version. `observer`, when set, is told the
    duration of each call (`request`, not the fan-out); `stream_observer` that of each
    streamed call, from its start to the end of its block (the caller's reading included)."""

    observer: Observer | None = None
    stream_observer: Observer | None = None

    def __init__(
        self, address: str, api_version: str = "1.41", pool_maxsize: int = 16, tls: TLSConfig | None = None
    ) -> None:
        self.address = address
        self.api_version = api_version
        # TLS applies to a TCP engine only (a unix socket is local, as for the docker CLI).
        self.tls = tls if socket_path(address) is None else None
        self._base = base_url(address, tls=self.tls is not None)
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies, no netrc: the engine is reached directly
        self._session.mount("http+unix://", _SocketAdapter(pool_maxsize))
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=pool_maxsize, max_retries=0)
        self._session.mount("http://", adapter)
        if self.tls is not None:
            self._session.mount("https://", adapter)
            self._session.verify = self.tls.ca if self.tls.verify else False
            self._session.cert = self.tls.client_cert

    def target(self, segments: Sequence[str], params: Params = None, versioned: bool = True) -> str:
        """The request target: the versioned path, every segment encoded, then the query."""
        path = "/".join(quote(s, safe="") for s in segments)
        prefix = f"/v{self.api_version}/" if versioned else "/"
        query = f"?{urlencode(params)}" if params else ""
        return prefix + path + query

    def url(self, segments: Sequence[str], versioned: bool = True) -> str:
        return self._base + self.target(segments, versioned=versioned)

    def request(
        self,
        method: str,
        segments: Sequence[str],
        *,
        params: Params = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        ok: Sequence[int] = (200, 201, 204),
        versioned: bool = True,
    ) -> Response:
        """Send one request; statuses in `ok` (and 304 when listed) return, others raise."""
        url = self.url(segments, versioned)
        started = time.perf_counter()
        try:  # not streamed: the body is read before _send returns
            r = self._send(method, url, params=params, json=json, data=data, headers=headers, timeout=timeout)
        finally:
            if self.observer is not None:
                self.observer(method, segments, time.perf_counter() - started)
        if r.status_code in ok:
            return Response(r.status_code, r.headers, r.content)
        raise error_from_response(r.status_code, r.content, r.headers.get("Location"))

    @contextmanager
    def stream(
        self,
        method: str,
        segments: Sequence[str],
        *,
        params: Params = None,
        json: Any = None,
        body: Iterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout | tuple[float, None] = DEFAULT_TIMEOUT,
        ok: Sequence[int] = (200,),
    ) -> Iterator[Stream]:
        """One request whose request body (`body`, sent chunked) and answer body are both
        streamed: memory stays at one chunk whatever their size. Errors raise as `request`'s;
        leaving the block closes the connection, read to its end or not. The read timeout is
        per chunk: a body that stops coming raises EngineTimeout."""
        # requests asks for gzip by default, and the engine then gzips an archive on one
        # core (~30 MB/s here, against ~500 MB/s plain over the socket); chunks are raw.
        headers = {"Accept-Encoding": "identity", **(headers or {})}
        url = self.url(segments)
        started = time.perf_counter()
        r = self._send(method, url, params=params, json=json, data=body, headers=headers, timeout=timeout, stream=True)
        try:
            if r.status_code not in ok:
                content = r.raw.read(_ERROR_BODY_MAX, decode_content=True) or b""
                raise error_from_response(r.status_code, content, r.headers.get("Location"))
            yield Stream(r, self._unavailable)
        finally:
            r.close()
            if self.stream_observer is not None:
                self.stream_observer(method, segments, time.perf_counter() - started)

    def get_many(
        self, calls: Sequence[tuple[Sequence[str], Params]], *, timeout: float = 30.0
    ) -> list[Response | EngineError]:
        """GET each (segments, params) at once, from this thread (see `fanout`); the i-th
        result is the i-th call's 200 answer or its error, never raised."""
        if self.tls is not None and self._tls_context is None:
            self._tls_context = self.tls.context()
        targets = [self.target(s, p) for s, p in calls]
        return fanout.get_all(self.address, targets, timeout=timeout, tls=self._tls_context, tls_config=self.tls)

    _tls_context: ssl.SSLContext | None = None

    def _send(self, method: str, url: str, **options: Any) -> requests.Response:
        """One request on the session, never following a redirect; a network failure raises
        EngineUnavailable (or EngineTimeout)."""
        try:
            return self._session.request(method, url, allow_redirects=False, **options)
        except _NETWORK_ERRORS as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> EngineUnavailable:
        where = display_name(self.address)
        if self.tls is not None and (message := describe_tls_error(where, self.tls, _innermost(exc))):
            return EngineUnavailable(message)
        if _read_timed_out(exc):
            return EngineTimeout(f"the Docker engine at {where} did not answer in time")
        if isinstance(exc, requests.Timeout):  # the connection itself timed out
            return EngineUnavailable(f"the Docker engine at {where} did not answer in time")
        return EngineUnavailable(f"the Docker engine at {where} is unreachable")

    def close(self) -> None:
        self._session.close()


def _innermost(exc: BaseException) -> BaseException:
    """The error under requests' and urllib3's wrappers (an ssl.SSLError, say)."""
    seen = exc
    for _ in range(8):
        inner = getattr(seen, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in seen.args if isinstance(a, BaseException)), None) or seen.__cause__
        if inner is None:
            break
        seen = inner
    return seen
