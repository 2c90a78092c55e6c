"""layout-spark.py WHEEL_DIR SPARK_HOME: unpack the pyspark wheel into a Spark home.

The wheel's pyspark/ directory holds a whole Spark distribution beside the Python package:
bin/, sbin/, jars/ and python/lib (pyspark.zip and py4j's source zip, which spark-submit puts
on the PYTHONPATH of Python applications). They go to SPARK_HOME/bin, sbin, jars and
python/lib; the Python package itself goes to SPARK_HOME/python/pyspark, where the official
image has it.
"""
import os
import stat
import sys
import zipfile
from pathlib import Path

wheel_dir, home = Path(sys.argv[1]), Path(sys.argv[2])
wheels = sorted(wheel_dir.glob("pyspark-*.whl"))
if len(wheels) != 1:
    sys.exit(f"layout-spark: want one pyspark wheel in {wheel_dir}, found {len(wheels)}")
distribution = {"bin", "sbin", "jars", "python", "data", "examples", "conf", "licenses"}
count = 0
with zipfile.ZipFile(wheels[0]) as zf:
    for info in zf.infolist():
        parts = Path(info.filename).parts
        if not parts or parts[0] != "pyspark" or info.is_dir():
            continue
        rest = parts[1:]
        if rest and rest[0] in distribution:
            dest = home.joinpath(*rest)
        else:
            dest = home.joinpath("python", "pyspark", *rest)
        if dest.suffix == ".cmd":
            continue  # Windows launchers
        dest.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(dest, "wb") as out:
            out.write(src.read())
        mode = 0o755 if rest and rest[0] in ("bin", "sbin") else 0o644
        os.chmod(dest, mode)
        count += 1
for needed in ("bin/spark-class", "bin/spark-submit", "python/lib/pyspark.zip"):
    if not (home / needed).exists():
        sys.exit(f"layout-spark: {needed} missing from {wheels[0].name}")
if not list((home / "jars").glob("spark-core_2.12-*.jar")):
    sys.exit("layout-spark: no Scala 2.12 spark-core jar")
(home / "RELEASE").write_text(f"Spark from {wheels[0].name} (PyPI)\n")
print(f"layout-spark: {count} files from {wheels[0].name} under {home}")
