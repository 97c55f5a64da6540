"""Sub-commands of the ``tollguard`` CLI; each module registers itself on ``tollguard.cli.app``."""
