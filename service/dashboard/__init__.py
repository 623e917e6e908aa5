"""The web dashboard: pages at ``/`` (service.dashboard.pages), their static files at
``/static`` (vendored libraries listed in static/VENDOR.md), session cookies and CSRF tokens
(service.dashboard.session), security headers (service.dashboard.headers)."""
