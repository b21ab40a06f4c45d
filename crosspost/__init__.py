"""crosspost: queue social media posts as YAML files and publish them on time, exactly once."""

__version__ = "0.1.0"
