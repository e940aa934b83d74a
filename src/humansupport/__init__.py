"""humansupport: human-centric support on top of the helpdesks teams already use."""

__version__ = "0.1.0"
