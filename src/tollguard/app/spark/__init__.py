"""``tollguard spark``: the embedded engine's detectors on Apache Spark Structured Streaming.

:mod:`~tollguard.app.spark.customer` runs one customer's embedded engine per key (plain Python),
:mod:`~tollguard.app.spark.carrier` the cross-customer stage on the driver, and
:mod:`~tollguard.app.spark.job` the Spark wiring (needs the ``spark`` extra). See
``docs/scale-out.md``.
"""
