"""``sudoless.nn.spark``: data-parallel training of sudoless.nn models on Apache Spark, BigDL-style.

::

    from sudoless.nn.spark import fit_spark
    history = fit_spark(model, x, y, epochs=10, batch_size=128, engine="barrier", partitions=4)

Three engines (see :func:`fit_spark`): ``sync`` (one Spark job per step, single-process semantics),
``average`` (local SGD with model averaging) and ``barrier`` (long-lived barrier tasks with a TCP ring
all-reduce, single-process semantics at a few milliseconds per step). pyspark is imported only when used.
"""

from sudoless.nn.spark.engine import FaultInjection
from sudoless.nn.spark.fit import ENGINES, SparkHistory, fit_spark
from sudoless.nn.spark.session import SparkOptions, start_session

__all__ = ["ENGINES", "FaultInjection", "SparkHistory", "SparkOptions", "fit_spark", "start_session"]
