"""Metrics: one module each, a pure function plus a thin class implementing the contract."""
