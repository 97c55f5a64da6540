"""tollguard: international toll fraud (IRSF) protection for telephone carriers."""

__version__ = "0.1.0"
