"""salonbridge: the command line and the composition root that wires the other packages."""
