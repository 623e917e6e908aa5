"""Request and response bodies, one module per resource (XCreate in, XPublic out)."""
