"""A reference CAD (computer-aided dispatch) for tests and benchmarks: the receiver server, sample incidents."""
