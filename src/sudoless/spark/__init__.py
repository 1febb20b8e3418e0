"""Spark without root: a Java runtime (:mod:`~sudoless.spark.java`), a local standalone cluster
(:mod:`~sudoless.spark.cluster`), relocatable environment archives (:mod:`~sudoless.spark.pack`) and a
``spark-submit`` that ships them (:mod:`~sudoless.spark.submit`).

Nothing here imports pyspark at module import; the functions that need it say what to install.
"""

__all__: list[str] = []  # nothing of its own: use its modules
