"""Fakes for hardware, used by the tests and by integrators: no mocks, real protocols on loopback."""
