"""hmrflow: probabilistic 3D human mesh recovery with conditional normalizing flows."""

__version__ = "0.1.0"
