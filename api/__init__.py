"""The HTTP API: channels start cases, units act on them, supervisors read history and rank units."""
