"""What a long run needs, below everything else in ``qec``: checked arguments (numbers and paths a
user gives), Ctrl-C and SIGTERM handling, progress bars, worker-process pools and memory estimates.

Layering: imports only ``qec._errors``."""
