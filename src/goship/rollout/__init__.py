"""Rollouts and canaries: engines written once against the Workloads, TrafficRouter and MetricsSource
ports, run on the local runtime or on Kubernetes."""
