"""Terminal rendering: the only place that knows about consoles, colours and tables."""
