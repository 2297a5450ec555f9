"""Files and numbers on disk: Stim shot files and their checks, circuit and DEM files, result files
written whole, locks, sinter's CSV, and the statistics of error counts.

Layering: above ``_encoding``."""
