"""Coverage-guided fuzz harnesses (atheris) for every MeterLink parser; see README.md."""
