"""Hardware data: experiment folders in Google's layout, which shots a DEM or model was fitted on
(provenance), and every decoder scored on the same hardware shots.

Layering: the top of ``qec``: above ``_collection``."""
