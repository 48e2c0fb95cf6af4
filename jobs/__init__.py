"""RQ job functions, the clock's schedule and the worker entry point."""
