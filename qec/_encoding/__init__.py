"""The exact core that turns shots into a network's tensors and back: the circuit's structure, the
space-time layout, the correction basis, training labels, labeled sampling, and Stim's bit-packed
shot layout.

Layering: above ``_circuits``."""
