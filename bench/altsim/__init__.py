"""altsim: an independent second generator of carrier traffic with labelled toll fraud.

It writes the same data directory as ``tollguard simulate`` (subscribers, CDRs, SIP events and
``truth/`` labels) from its own model of customers and attacks, so that the detection engine can
be checked on traffic it was not tuned on. See ``bench/altsim/README.md``.
"""

from .generate import Config, build, generate, write

__all__ = ["Config", "build", "generate", "write"]
