"""The local runtime: replicas as processes, goship's router in front of them, load and rehearsal."""
