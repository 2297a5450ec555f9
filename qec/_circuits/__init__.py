"""Circuits and noise: ``MemoryExperiment`` (a rotated surface-code memory: Stim circuit, DEM,
metadata), the noise models and their versions, noise insertion and per-qubit scaling.

Layering: above ``_runtime``."""
