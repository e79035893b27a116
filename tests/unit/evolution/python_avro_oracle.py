"""Schema resolution by Apache Avro's Python library (Debian's python3-avro), as a second oracle.

Reads a JSON list of cases on stdin, each {"rule", "writer", "reader", "writer_bytes", "reader_bytes"}
(bytes as hex): writer_bytes were written with the writer schema, reader_bytes are Horizons'
translation of them into the reader schema. For each case prints one line: "same <rule>" when
Python's own resolution of writer_bytes equals Python's plain reading of reader_bytes (all of them
consumed), else "differ <rule>: <python's> != <horizons'>".
"""
import io
import json
import sys

import avro.io
import avro.schema


def read(data, writer, reader):
    stream = io.BytesIO(bytes.fromhex(data))
    datum = avro.io.DatumReader(writer, reader).read(avro.io.BinaryDecoder(stream))
    return datum, len(stream.read())


for case in json.load(sys.stdin):
    writer = avro.schema.parse(case["writer"])
    reader = avro.schema.parse(case["reader"])
    try:
        expected, _ = read(case["writer_bytes"], writer, reader)
    except Exception as error:  # the oracle refusing is a result too
        expected = f"python refused: {error}"
    actual, left = read(case["reader_bytes"], reader, reader)
    if expected == actual and left == 0:
        print(f"same {case['rule']}")
    else:
        print(f"differ {case['rule']}: {expected!r} != {actual!r} ({left} bytes left)")
