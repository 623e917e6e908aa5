"""Data access: keyword-only functions taking a ``Session``; routers and workers call these."""
