"""Deterministic synthetic data for benchmarks and demos: a catalog and usage records that fit it.

Pure functions only (numpy Generator + Polars/Arrow, vectorised); writing files is
pipeline/io/synth_files.py. `synth_catalog` builds the catalog tables and the call
lines behind them; `usage_part` draws one output file's records from it.
"""

from pipeline.synth.catalog import SynthCatalog, synth_catalog
from pipeline.synth.usage import NOISE, Noise, part_sizes, usage_part

__all__ = ["NOISE", "Noise", "SynthCatalog", "part_sizes", "synth_catalog", "usage_part"]
