"""Prefect flows: they wire the pure stages of `pipeline` to I/O, with retries and logging."""
