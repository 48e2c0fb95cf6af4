"""The HTTP edge: booking-system hooks, health, metrics and the API description."""
