"""Pure numeric engine: no Django, no clock, no I/O. See each module's docstring."""
