"""The demo's Spark application: the most frequent words of a text, split into words on the executors by the
`textstats` package, which only the shipped environment has. Usage: spark-submit wordcount.py TEXT [TOP]"""

import sys
from pathlib import Path

from pyspark.sql import SparkSession


def where(_):
    import sys

    import textstats

    yield sys.executable, textstats.__file__


spark = SparkSession.builder.getOrCreate()
context = spark.sparkContext
context.setLogLevel("WARN")  # the job log keeps the app's lines, not Spark's progress
text, top = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10
lines = context.parallelize(Path(text).read_text(encoding="utf-8").splitlines(), 4)


def split(line):
    import textstats

    return textstats.words(line)


counts = lines.flatMap(split).map(lambda word: (word, 1)).reduceByKey(lambda a, b: a + b)
total = counts.map(lambda pair: pair[1]).sum()
# One write per line: Spark relays the driver's output through the same pipe as its own log.
for word, count in counts.takeOrdered(top, key=lambda pair: (-pair[1], pair[0])):
    sys.stdout.write(f"WORD {word} {count}\n")
for executable, module in sorted(set(context.parallelize(range(2), 2).mapPartitions(where).collect())):
    sys.stdout.write(f"EXECUTOR python {executable} textstats {module}\n")
sys.stdout.write(f"RESULT {total} words\n")
sys.stdout.flush()
spark.stop()
