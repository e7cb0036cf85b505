"""Shipped rule data (read with importlib.resources); no code."""
