"""The playbook's rules, one small module per concern, composed by ``pipelines.planner``.

Each module exposes ``on_event(occasion)`` (a booking changed) and/or ``on_clock(scene)`` (time
passed); both return actions and never look at anything but their argument.
"""
