"""LER collection: tasks and results, jobs over each point's shot stream, decoders on the same
shots (pairing), resume from sinter's CSV, worker processes and Dask clusters.

Layering: above ``_decoding``."""
