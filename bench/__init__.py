"""Benchmarks of ESCP Connect (not tests): see bench/README.md."""
