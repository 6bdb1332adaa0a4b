"""The vectorised core of the rating pipeline: pure functions, frame in, frame out."""
