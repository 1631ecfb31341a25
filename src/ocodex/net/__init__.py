"""Talking to model servers over HTTP: the one network package.

- `connection`: a provider + base URL -> `Connection` (credentials split off the URL, endpoints for
  failover, TLS settings, plain-HTTP warnings). No I/O.
- `transport`: the one `Transport`/httpx client (headers, Basic auth per endpoint, CA bundles, proxies
  from the env, failover on connect errors).
- `errors`: reading a failure (error bodies, Retry-After, TLS, proxies, transport errors) — one home.
- `request_log`: `OCODEX_LOG_REQUESTS` / `log_requests`, httpx hooks appending every exchange.
- `urls`: a base URL's server root, loopback detection.

httpx is imported only by the modules that use it; importing this package imports nothing.
"""
