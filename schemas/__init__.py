"""Pandera models: the contracts between stages, one model per table that crosses a boundary."""
